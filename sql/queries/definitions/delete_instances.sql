-- `--with-history`: a deleted workflow's finished instances with their task instances, logs
-- and queue rows, their events, failed start commands and backfills.
with instances as (
    delete from pgdag.workflow_instance where workflow_code = $1 returning id
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
), commands as (
    delete from pgdag.command where state = 'failed' and project = $2 and workflow = $3
), backfills as (
    delete from pgdag.backfill where workflow_code = $1
)
select count(*) from instances
