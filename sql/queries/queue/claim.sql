-- Up to $2 attempts that run a process and up to $5 that run in process, each kind in the
-- queue's order.
with processes as materialized (
    select task_instance_id
    from pgdag.task_queue
    where worker_group = any($1::text[]) and not in_process
    order by workflow_priority, workflow_instance_id, task_priority, task_instance_id
    limit $2
    for update skip locked
), in_process as materialized (
    select task_instance_id
    from pgdag.task_queue
    where worker_group = any($1::text[]) and in_process
    order by workflow_priority, workflow_instance_id, task_priority, task_instance_id
    limit $5
    for update skip locked
), picked as (
    select task_instance_id from processes
    union all
    select task_instance_id from in_process
), taken as (
    delete from pgdag.task_queue q
    using picked
    where q.task_instance_id = picked.task_instance_id
    returning q.task_instance_id, q.workflow_priority, q.workflow_instance_id, q.task_priority, q.queued_at
)
update pgdag.task_instance t
set state = 'dispatched', host = $3, server_id = $4, claim_token = gen_random_uuid(),
    dispatched_at = clock_timestamp()
from taken
where t.id = taken.task_instance_id
returning t.id, t.workflow_instance_id, t.name, t.task_type, t.attempt, t.claim_token, t.payload,
    (select coalesce(max(l.seq) + 1, 0) from pgdag.task_log l where l.task_instance_id = t.id) as next_seq,
    taken.workflow_priority, taken.task_priority,
    extract(epoch from clock_timestamp() - taken.queued_at)::float8 as queue_wait_s
