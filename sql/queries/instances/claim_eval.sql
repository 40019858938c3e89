-- Lock one instance with due evaluation events (skipping ones other masters hold) and
-- consume its due events, in one statement: an event committed after this statement's
-- snapshot survives and causes another evaluation, so no state change is ever missed.
with wi as (
    select wi.id, wi.state, wi.workflow_code, wi.workflow_version, wi.params, wi.schedule_time,
           wi.started_at, wi.priority, wi.failure_strategy, wi.timeout_alerted, wi.sla_due_at, wi.sla_alerted, wi.backfill_id, wi.start_nodes,
           wi.parent_instance_id, wi.parent_task_instance_id, wi.project_id, wi.host,
           (select v.vals from pgdag.project_variables v where v.project_id = wi.project_id) as variables,
           greatest($1::timestamptz, now()) as db_now
    from pgdag.workflow_instance wi
    where wi.id in (select e.workflow_instance_id from pgdag.instance_event e where e.due_at <= greatest($1::timestamptz, now()))
    order by wi.id
    limit 1
    for update of wi skip locked
), consumed as (
    delete from pgdag.instance_event e
    using wi
    where e.workflow_instance_id = wi.id and e.due_at <= greatest($1::timestamptz, now())
    returning e.ended_tasks
), ended as (
    select unnest(ended_tasks) as id from consumed
)
-- With the ended attempts: their task codes and whether all succeeded, so that the
-- evaluator can tell without another round trip that a completion changes nothing.
select wi.*,
       array(select id from ended) as ended_tasks,
       exists(select 1 from consumed where ended_tasks is null) as other_events,
       array(select t.task_code from ended c join pgdag.task_instance t on t.id = c.id) as ended_codes,
       coalesce((select bool_and(t.state = 'succeeded')
                 from ended c join pgdag.task_instance t on t.id = c.id), false)
           as ended_all_succeeded
from wi
