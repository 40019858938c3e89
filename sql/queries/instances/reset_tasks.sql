-- Put tasks back to pending for another run; `attempt` keeps counting, logs are kept.
update pgdag.task_instance
set state = 'pending', ended_at = null, started_at = null, dispatched_at = null,
    exit_code = null, error = null, retry_at = null, wait_until = null,
    cpu_user_ms = null, cpu_system_ms = null, max_rss_kib = null,
    kill_requested = false, claim_token = null, host = null, server_id = null,
    out_params = '{}', branch = null, result = null, held = false
where workflow_instance_id = $1 and state = any($2::text[])
