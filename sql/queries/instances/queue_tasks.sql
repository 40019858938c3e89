with q as (
    select * from unnest($1::bigint[], $2::jsonb[], $4::bigint[]) as q(id, payload, retry_delay_ms)
), upd as (
    update pgdag.task_instance t
    set state = 'queued', attempt = t.attempt + 1, payload = q.payload, queued_at = clock_timestamp(),
        claim_token = null, host = null, server_id = null, kill_requested = false,
        exit_code = null, error = null, retry_at = null, wait_until = null,
        cpu_user_ms = null, cpu_system_ms = null, max_rss_kib = null,
        dispatched_at = null, started_at = null, ended_at = null, retry_delay_ms = q.retry_delay_ms
    from q
    where t.id = q.id
    returning t.id, t.workflow_instance_id, t.priority, t.worker_group, t.task_type
)
-- $5: the task types that run in process (`TaskType::runs_in_process`).
insert into pgdag.task_queue (task_instance_id, workflow_instance_id, workflow_priority, task_priority, worker_group, in_process)
select upd.id, upd.workflow_instance_id, $3, upd.priority, upd.worker_group, upd.task_type = any($5::text[]) from upd
