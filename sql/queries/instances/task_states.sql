-- A task instance's state, its instance and the instance's state.
select t.workflow_instance_id, t.state as task_state, i.state as instance_state
from pgdag.task_instance t
join pgdag.workflow_instance i on i.id = t.workflow_instance_id
where t.id = $1
