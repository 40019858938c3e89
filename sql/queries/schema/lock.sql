-- Waits: two processes never migrate at once.
select pg_advisory_lock($1)
