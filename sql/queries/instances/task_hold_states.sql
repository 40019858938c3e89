-- A task instance's state, its instance, the instance's state, and whether it is held.
select t.workflow_instance_id, t.state as task_state, i.state as instance_state, t.held
from pgdag.task_instance t
join pgdag.workflow_instance i on i.id = t.workflow_instance_id
where t.id = $1
