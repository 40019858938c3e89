select wi.id, wi.state, wi.workflow_code, wi.workflow_version, wi.params, wi.schedule_time,
       wi.started_at, wi.priority, wi.failure_strategy, wi.timeout_alerted, wi.sla_due_at, wi.sla_alerted, wi.backfill_id, wi.start_nodes,
       wi.parent_instance_id, wi.parent_task_instance_id, wi.project_id, wi.host,
       (select v.vals from pgdag.project_variables v where v.project_id = wi.project_id) as variables,
       greatest($1::timestamptz, now()) as db_now
from pgdag.workflow_instance wi
where wi.id in (select e.workflow_instance_id from pgdag.instance_event e where e.due_at <= greatest($1::timestamptz, now()))
order by wi.id
limit 1
for update skip locked
