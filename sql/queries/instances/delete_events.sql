delete from pgdag.instance_event where workflow_instance_id = $1 and due_at <= greatest($2::timestamptz, now())
returning task_instance_id
