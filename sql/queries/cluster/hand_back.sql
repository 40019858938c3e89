-- A server gives back the attempts it still holds (graceful shutdown, or recovery after it
-- fenced itself): they are re-queued at once through `need_failover`.
with moved as (
    update pgdag.task_instance t
    set state = 'need_failover', error = $2
    where t.server_id = $1 and t.state in ('dispatched', 'running')
    returning t.workflow_instance_id
), events as (
    insert into pgdag.instance_event (workflow_instance_id)
    select distinct workflow_instance_id from moved
)
select count(*) from moved
