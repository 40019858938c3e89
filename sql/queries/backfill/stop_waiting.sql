update pgdag.workflow_instance set state = 'stopped', ended_at = now(), error = $2
where backfill_id = $1 and state = 'waiting'
