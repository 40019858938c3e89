delete from pgdag.server
where coalesce(stopped_at, dead_at) < now() - interval '1 day'
