select id, claim_token from pgdag.task_instance
where server_id = $1 and kill_requested and state in ('dispatched', 'running')
