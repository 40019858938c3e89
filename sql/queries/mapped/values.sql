-- The list elements of the given items, for the payloads of the ones queued now.
select id, map_value from pgdag.task_instance where id = any($1::bigint[])
