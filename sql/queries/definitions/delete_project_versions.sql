-- `project delete --with-history`, after its instances: every version stored for it.
with relations as (
    delete from pgdag.workflow_task_relation_log
    where workflow_code in (select code from pgdag.workflow_definition_log where project_id = $1)
), workflows as (
    delete from pgdag.workflow_definition_log where project_id = $1
), tasks as (
    delete from pgdag.task_definition where project_id = $1
)
delete from pgdag.task_definition_log where project_id = $1
