-- `project delete --with-history`: what is left of the project's history after its
-- workflows went (instances of workflows deleted earlier without history), and its backfills.
with instances as (
    delete from pgdag.workflow_instance where project_id = $1 returning id
), tasks as (
    delete from pgdag.task_instance t
    where t.workflow_instance_id = any(array(select id from instances))
    returning t.id
), logs as (
    delete from pgdag.task_log l where l.task_instance_id = any(array(select id from tasks))
), queued as (
    delete from pgdag.task_queue q where q.task_instance_id = any(array(select id from tasks))
), events as (
    delete from pgdag.instance_event where workflow_instance_id in (select id from instances)
), backfills as (
    delete from pgdag.backfill where project_id = $1
)
select count(*) from instances
