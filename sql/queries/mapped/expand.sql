-- Expand a mapped task: its row becomes the running parent of one pending item per
-- element of the list $2, named `name[i]`, each keeping its element. The parent holds no
-- task group slot: its items take the spec's group $3.
with parent as (
    update pgdag.task_instance
    set state = 'running', map_count = jsonb_array_length($2::jsonb), task_group = null,
        started_at = clock_timestamp(), ended_at = null, error = null, out_params = '{}'
    where id = $1
    returning workflow_instance_id, task_code, task_version, name, task_type, max_retries,
              retry_interval_ms, priority, worker_group, on_worker_loss
)
insert into pgdag.task_instance
    (workflow_instance_id, task_code, task_version, name, task_type, state, max_retries,
     retry_interval_ms, priority, worker_group, on_worker_loss, task_group, map_index, map_value)
select p.workflow_instance_id, p.task_code, p.task_version, p.name || '[' || (e.n - 1) || ']',
       p.task_type, 'pending', p.max_retries, p.retry_interval_ms, p.priority, p.worker_group,
       p.on_worker_loss, $3, (e.n - 1)::int, e.value
from parent p, jsonb_array_elements($2::jsonb) with ordinality as e(value, n)
