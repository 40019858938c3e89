-- `--with-history`, after its instances: a deleted workflow's versions, relation history
-- and the definitions of its tasks.
with tasks as (
    select distinct post_task_code as code from pgdag.workflow_task_relation_log
    where workflow_code = $1
), relations as (
    delete from pgdag.workflow_task_relation_log where workflow_code = $1
), versions as (
    delete from pgdag.workflow_definition_log where code = $1
), current_tasks as (
    delete from pgdag.task_definition where code in (select code from tasks)
)
delete from pgdag.task_definition_log where code in (select code from tasks)
