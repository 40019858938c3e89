update pgdag.workflow_instance set state = $2, ended_at = now() where id = $1
