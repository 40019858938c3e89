with done as (
    select *
    from unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::jsonb[], $6::text[], $7::jsonb[])
        as d(id, token, outcome, exit_code, out_params, error, result)
), upd as (
    update pgdag.task_instance t
    set state = case
            when d.outcome = 'succeeded' then 'succeeded'
            when d.outcome = 'killed' or t.kill_requested then 'killed'
            when t.attempt <= t.max_retries then 'retrying'
            else 'failed'
        end,
        retry_at = case
            when d.outcome = 'failed' and not t.kill_requested and t.attempt <= t.max_retries
            then now() + t.retry_interval_ms * interval '1 millisecond'
        end,
        exit_code = d.exit_code,
        out_params = d.out_params,
        error = d.error,
        result = d.result,
        started_at = coalesce(t.started_at, now()),
        ended_at = now()
    from done d
    where t.id = d.id and t.claim_token = d.token and t.state in ('dispatched', 'running')
    returning t.id, t.workflow_instance_id, t.task_group
), events as (
    insert into pgdag.instance_event (workflow_instance_id, task_instance_id)
    select workflow_instance_id, id from upd
), freed as (
    -- A slot of a task group freed: wake the instances whose tasks wait for one.
    insert into pgdag.instance_event (workflow_instance_id)
    select distinct w.workflow_instance_id
    from pgdag.task_instance w
    where w.state = 'waiting' and w.task_group in (select task_group from upd where task_group is not null)
)
select id from upd
