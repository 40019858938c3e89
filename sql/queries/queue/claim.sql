-- plan: by index (made while the queue is nearly empty, a plan would scan it whole)
-- Up to $2 attempts that run a process and up to $5 that run in process, each kind in the
-- queue's order.
-- Each worker group is read on its own (the lateral subqueries), in the order of the claim
-- index: `worker_group = any($1)` over the whole queue could not use the index's order and
-- sorted every queued attempt of the groups at each claim (half a second at 1,000,000
-- queued). The groups' best attempts are then merged; with one group nothing is left over,
-- with several the extra rows locked are released at the end of the statement.
with processes as materialized (
    select q.ctid, q.task_instance_id
    from unnest($1::text[]) g(name)
    cross join lateral (
        select ctid, task_instance_id, workflow_priority, workflow_instance_id, task_priority
        from pgdag.task_queue
        where worker_group = g.name and not in_process
        order by workflow_priority, workflow_instance_id, task_priority, task_instance_id
        limit $2
        for update skip locked
    ) q
    order by q.workflow_priority, q.workflow_instance_id, q.task_priority, q.task_instance_id
    limit $2
), in_process as materialized (
    select q.ctid, q.task_instance_id
    from unnest($1::text[]) g(name)
    cross join lateral (
        select ctid, task_instance_id, workflow_priority, workflow_instance_id, task_priority
        from pgdag.task_queue
        where worker_group = g.name and in_process
        order by workflow_priority, workflow_instance_id, task_priority, task_instance_id
        limit $5
        for update skip locked
    ) q
    order by q.workflow_priority, q.workflow_instance_id, q.task_priority, q.task_instance_id
    limit $5
), picked as (
    select ctid, task_instance_id from processes
    union all
    select ctid, task_instance_id from in_process
), taken as (
    -- By the locked rows' `ctid` (a TID scan): the plan is made once (store::db), not
    -- knowing how many rows `limit $2` gives. With a join it read the whole queue to hash
    -- it; by `task_instance_id = any(...)` it scanned the whole queue whenever the plan was
    -- made while the queue was nearly empty (as the table keeper's ANALYZE often finds it),
    -- comparing every row with every picked id: 10 of a 35 ms claim of 459.
    delete from pgdag.task_queue q
    where q.ctid = any(array(select ctid from picked))
    returning q.task_instance_id, q.workflow_priority, q.workflow_instance_id, q.task_priority, q.queued_at
), claimed as (
    update pgdag.task_instance t
    set state = 'dispatched', host = $3, server_id = $4, claim_token = gen_random_uuid(),
        dispatched_at = clock_timestamp()
    from taken
    where t.id = taken.task_instance_id and t.id = any(array(select task_instance_id from picked))
    returning t.id, t.workflow_instance_id, t.name, t.task_type, t.attempt, t.claim_token, t.payload,
        (select coalesce(max(l.seq) + 1, 0) from pgdag.task_log l where l.task_instance_id = t.id) as next_seq,
        taken.workflow_priority, taken.task_priority,
        extract(epoch from clock_timestamp() - taken.queued_at)::float8 as queue_wait_s
)
-- The datasource a `sql`/`procedure` attempt names comes with it: no lookup per attempt.
select c.*, d.db_type as ds_type, d.url as ds_url, d.password_env as ds_password_env,
       d.password_secret as ds_password_secret
from claimed c
left join pgdag.project p on c.payload ? 'datasource' and p.name = c.payload ->> 'project'
left join pgdag.datasource d on d.project_id = p.id and d.name = c.payload ->> 'datasource'
