-- An item of a mapped task was retried or forced to success: its ended parent goes back to
-- `pending` (still expanded), so the next evaluation resumes it.
update pgdag.task_instance p
set state = 'pending', ended_at = null, error = null, out_params = '{}'
from pgdag.task_instance i
where i.id = $1 and i.map_index is not null
  and p.workflow_instance_id = i.workflow_instance_id and p.task_code = i.task_code
  and p.map_index is null
  and p.state in ('succeeded', 'failed', 'skipped', 'killed', 'forced_success', 'paused')
returning p.id
