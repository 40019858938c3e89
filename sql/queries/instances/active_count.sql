select count(*) from pgdag.workflow_instance
where workflow_code = $1 and state in ('running', 'pausing', 'stopping')
