insert into pgdag.instance_event (workflow_instance_id, due_at)
values ($1, now() + $2::bigint * interval '1 millisecond')
