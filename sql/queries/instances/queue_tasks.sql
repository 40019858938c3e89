with q as (
    select * from unnest($1::bigint[], $2::jsonb[]) as q(id, payload)
), upd as (
    update pgdag.task_instance t
    set state = 'queued', attempt = t.attempt + 1, payload = q.payload, queued_at = clock_timestamp(),
        claim_token = null, host = null, server_id = null, kill_requested = false,
        exit_code = null, error = null, retry_at = null, wait_until = null,
        dispatched_at = null, started_at = null, ended_at = null
    from q
    where t.id = q.id
    returning t.id, t.workflow_instance_id, t.priority, t.worker_group, t.task_type
)
-- $4: the task types that run in process (`TaskType::runs_in_process`).
insert into pgdag.task_queue (task_instance_id, workflow_instance_id, workflow_priority, task_priority, worker_group, in_process)
select upd.id, upd.workflow_instance_id, $3, upd.priority, upd.worker_group, upd.task_type = any($4::text[]) from upd
