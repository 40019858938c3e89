select id, name, task_type, state, attempt, host, started_at, ended_at, exit_code, out_params, error
from pgdag.task_instance
where workflow_instance_id = $1
order by id
