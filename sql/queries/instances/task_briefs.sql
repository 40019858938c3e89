-- Every task of an instance in brief (id, task code, name, state, times): what the instance
-- page counts and draws for an instance too big to list whole.
select t.id, t.task_code, t.name, t.state, t.started_at, t.ended_at
from pgdag.task_instance t
where t.workflow_instance_id = $1
order by t.id
