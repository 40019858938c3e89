select id, task_code, state, attempt, ended_at, retry_at, wait_until, kill_requested, branch, started_at, held,
       map_index, map_count
from pgdag.task_instance
where workflow_instance_id = $1
order by id
