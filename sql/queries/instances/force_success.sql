-- Mark a failed or killed task of the instance forced_success; returns its id.
update pgdag.task_instance set state = 'forced_success', error = coalesce(error, '') || ' (forced to success)'
where id = $1 and workflow_instance_id = $2 and state in ('failed', 'killed')
returning id
