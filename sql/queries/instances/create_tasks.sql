insert into pgdag.task_instance
    (workflow_instance_id, task_code, task_version, name, task_type, state, max_retries,
     retry_interval_ms, priority, worker_group, on_worker_loss, task_group)
select $1, c.code, c.version, c.name, c.task_type, 'pending', c.retries, c.retry_interval_ms,
       c.priority, c.worker_group, c.on_worker_loss, c.task_group
from unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::int[], $7::bigint[],
            $8::smallint[], $9::text[], $10::text[], $11::text[])
    with ordinality as c(code, version, name, task_type, retries, retry_interval_ms, priority,
                         worker_group, on_worker_loss, task_group, ord)
order by c.ord
