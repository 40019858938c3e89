select (extract(epoch from (min(due_at) - greatest($1::timestamptz, now()))) * 1000)::float8 from pgdag.instance_event
