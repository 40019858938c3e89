select count(*) from pgdag.workflow_instance
where backfill_id = $1 and state in ('running', 'pausing', 'stopping')
