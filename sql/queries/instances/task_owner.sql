select workflow_instance_id, state from pgdag.task_instance where id = $1
