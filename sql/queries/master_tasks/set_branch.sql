-- A switch/conditions task decided: succeeded, with the successors it took.
update pgdag.task_instance
set state = 'succeeded', branch = $2, attempt = greatest(attempt, 1),
    started_at = coalesce(started_at, clock_timestamp()), ended_at = clock_timestamp(), host = $3
where id = $1
