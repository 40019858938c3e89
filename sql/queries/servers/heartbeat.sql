-- No row: this server was declared dead (or stopped); it must take a new identity.
update pgdag.server set heartbeat_at = greatest($4::timestamptz, now()), running_tasks = $2, load = coalesce($3, load)
where id = $1 and dead_at is null and stopped_at is null
returning id
