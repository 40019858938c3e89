-- A master-side task ends; only one that is still running or waiting (a stop may have
-- decided first).
update pgdag.task_instance
set state = $2, error = $3, out_params = $4, ended_at = clock_timestamp()
where id = $1 and state in ('running', 'waiting')
