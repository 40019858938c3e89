-- clock_timestamp(): an instance can start and end in one transaction (master-side tasks
-- only), and its end must not come before its start.
update pgdag.workflow_instance set state = $2, ended_at = clock_timestamp() where id = $1
