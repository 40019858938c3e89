select (extract(epoch from (min(due_at) - now())) * 1000)::float8 from pgdag.instance_event
