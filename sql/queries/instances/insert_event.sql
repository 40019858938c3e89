insert into pgdag.instance_event (workflow_instance_id, due_at) values ($1, coalesce($2, now()))
