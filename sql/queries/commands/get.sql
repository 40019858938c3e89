select state, error from pgdag.command where workflow_instance_id = $1 order by id desc limit 1
