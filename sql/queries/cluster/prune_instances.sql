-- Final instances (paused included) past their workflow's retention or the global one, in
-- small batches, with their evaluation events, their sent or failed alerts, their tasks
-- and what log rows of theirs no dropped partition took along (no foreign key cascades
-- there: V24). `= any(array(...))`: the plan is made once, and a join with a CTE of unknown
-- size could read every log partition whole.
with old as (
    select wi.id
    from pgdag.workflow_instance wi
    left join pgdag.workflow_definition wd on wd.code = wi.workflow_code
    where wi.state in ('paused', 'stopped', 'failed', 'succeeded')
      and wi.ended_at < greatest($2::timestamptz, now()) - coalesce(wd.retention, make_interval(days => $1))
    order by wi.ended_at
    limit 500
), events as (
    delete from pgdag.instance_event e using old where e.workflow_instance_id = old.id
), alerts as (
    delete from pgdag.alert a using old where a.workflow_instance_id = old.id and a.state <> 'pending'
), tasks as (
    delete from pgdag.task_instance t
    where t.workflow_instance_id = any(array(select id from old))
    returning t.id
), logs as (
    delete from pgdag.task_log l where l.task_instance_id = any(array(select id from tasks))
), queued as (
    delete from pgdag.task_queue q where q.task_instance_id = any(array(select id from tasks))
)
delete from pgdag.workflow_instance wi using old where wi.id = old.id
