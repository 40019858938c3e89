-- Declare servers dead and take their attempts back: re-queued through `need_failover`,
-- or failed for tasks with `on_worker_loss: fail`. One failover alert per dead server.
with dead as (
    update pgdag.server set dead_at = now()
    where id = any($1::bigint[]) and dead_at is null and stopped_at is null
    returning id, name
), moved as (
    update pgdag.task_instance t
    set state = case when t.on_worker_loss = 'fail' then 'failed' else 'need_failover' end,
        ended_at = case when t.on_worker_loss = 'fail' then now() else t.ended_at end,
        error = 'worker ' || dead.name || ' died during attempt ' || t.attempt
    from dead
    where t.server_id = dead.id and t.state in ('dispatched', 'running')
    returning t.id, t.workflow_instance_id, t.name, t.state, dead.id as server_id
), events as (
    insert into pgdag.instance_event (workflow_instance_id)
    select distinct workflow_instance_id from moved
), alerts as (
    insert into pgdag.alert (kind, payload)
    select 'failover',
           jsonb_build_object(
               'server_id', d.id,
               'server', d.name,
               'task_instances', coalesce(
                   (select jsonb_agg(jsonb_build_object('id', m.id, 'name', m.name, 'state', m.state,
                                                        'workflow_instance_id', m.workflow_instance_id,
                                                        'project', c ->> 'project',
                                                        'workflow', c ->> 'workflow') order by m.id)
                    from moved m
                    cross join lateral pgdag.alert_instance_context(m.workflow_instance_id) c
                    where m.server_id = d.id), '[]'::jsonb))
    from dead d
)
select (select count(*) from dead) as servers, (select count(*) from moved) as attempts
