with done as (
    select *
    from unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::jsonb[], $6::text[], $7::jsonb[],
                $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
        as d(id, token, outcome, exit_code, out_params, error, result, cpu_user_ms, cpu_system_ms, max_rss_kib,
             ran_us)
), upd as (
    update pgdag.task_instance t
    set state = case
            when d.outcome = 'succeeded' then 'succeeded'
            when d.outcome = 'killed' or t.kill_requested then 'killed'
            -- A failure no attempt can mend (a tenant this worker cannot run as).
            when d.outcome = 'failed_final' then 'failed'
            when t.attempt <= t.max_retries then 'retrying'
            else 'failed'
        end,
        retry_at = case
            when d.outcome = 'failed' and not t.kill_requested and t.attempt <= t.max_retries
            then greatest($8::timestamptz, now())
                 + coalesce(t.retry_delay_ms, t.retry_interval_ms) * interval '1 millisecond'
        end,
        exit_code = d.exit_code,
        out_params = d.out_params,
        error = d.error,
        result = d.result,
        -- Each attempt's own (null when it ran no process).
        cpu_user_ms = d.cpu_user_ms,
        cpu_system_ms = d.cpu_system_ms,
        max_rss_kib = d.max_rss_kib,
        -- An attempt never marked running (an in-process one that ended at once): its
        -- end minus how long it ran, by the worker's clock.
        started_at = coalesce(t.started_at,
                              greatest($8::timestamptz, now()) - coalesce(d.ran_us, 0) * interval '1 microsecond'),
        -- The clock's: a relation delay runs from here.
        ended_at = greatest($8::timestamptz, now())
    from done d
    where t.id = d.id and t.claim_token = d.token and t.state in ('dispatched', 'running')
    returning t.id, t.workflow_instance_id, t.task_group, t.state, t.name, t.attempt, t.host,
              t.payload ->> 'send_result_to' as send_result_to
), logged as (
    -- The log chunks that came with these outcomes ($13..$15), written with the outcome
    -- only when it holds (its claim and state matched): a flush sent again after its
    -- commit was not seen matches no row, so no chunk is written twice, and no lookup of
    -- the log or of the claim is needed per chunk (queue/append_logs.sql does both, a
    -- tenth of a `sql` attempt's CPU with them).
    insert into pgdag.task_log (task_instance_id, seq, attempt, text)
    select l.id, l.seq, u.attempt, l.text
    from unnest($13::bigint[], $14::int[], $15::text[]) as l(id, seq, text)
    join upd u on u.id = l.id
), events as (
    -- One event per instance with the attempts that ended in it (V25).
    insert into pgdag.instance_event (workflow_instance_id, ended_tasks)
    select workflow_instance_id, array_agg(id) from upd group by workflow_instance_id
), freed as (
    -- A slot of a task group freed: wake the instances whose tasks wait for one.
    insert into pgdag.instance_event (workflow_instance_id)
    select distinct w.workflow_instance_id
    from pgdag.task_instance w
    where w.state = 'waiting' and w.task_group in (select task_group from upd where task_group is not null)
), results as (
    -- A succeeded `sql` task with `send_result_to`: its result goes to that alert group.
    insert into pgdag.alert (kind, workflow_instance_id, task_instance_id, alert_group, payload)
    select 'sql_result', u.workflow_instance_id, u.id, u.send_result_to,
           jsonb_build_object(
               'instance', pgdag.alert_instance_context(u.workflow_instance_id),
               'task', jsonb_build_object('id', u.id, 'name', u.name, 'attempt', u.attempt,
                                          'host', u.host),
               'datasource', t.payload ->> 'datasource',
               'sql', t.payload ->> 'sql',
               'result', pgdag.alert_bounded_result(d.result, 100))
    from upd u
    join done d on d.id = u.id
    join pgdag.task_instance t on t.id = u.id
    where u.state = 'succeeded' and u.send_result_to is not null
)
select id from upd
