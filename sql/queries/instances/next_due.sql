select extract(epoch from (min(due_at) - now())) * 1000 from pgdag.instance_event
