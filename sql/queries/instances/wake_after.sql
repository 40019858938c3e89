insert into pgdag.instance_event (workflow_instance_id, due_at)
values ($1, greatest($3::timestamptz, now()) + $2::bigint * interval '1 millisecond')
