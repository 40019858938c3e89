delete from pgdag.server
where coalesce(stopped_at, dead_at) < greatest($1::timestamptz, now()) - interval '1 day'
