delete from pgdag.workflow_task_relation where workflow_code = $1
