-- A successful login: its name starts again from zero. Keys quiet for longer than the
-- window ($2 seconds) are swept at the same time, so the table stays small.
delete from pgdag.login_throttle
where key = $1 or last_at < now() - make_interval(secs => $2::float8)
