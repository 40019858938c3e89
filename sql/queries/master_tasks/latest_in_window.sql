-- The newest instance of a workflow whose schedule time (its start time when it has none)
-- falls in [start, end), other than the asking instance; with the state of one task of it.
select wi.id, wi.state,
       (select t.state from pgdag.task_instance t
        where t.workflow_instance_id = wi.id and t.name = $5
        order by t.id desc limit 1) as task_state
from pgdag.workflow_instance wi
where wi.workflow_code = $1
  and coalesce(wi.schedule_time, wi.started_at, wi.created_at) >= $2
  and coalesce(wi.schedule_time, wi.started_at, wi.created_at) < $3
  and wi.id <> $4
order by coalesce(wi.schedule_time, wi.started_at, wi.created_at) desc, wi.id desc
limit 1
