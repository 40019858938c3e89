-- A master-side task starts (sub_process) or is checked (dependent). A first start counts an
-- attempt; a dependent re-checked after waiting keeps its attempt and start time.
update pgdag.task_instance
set attempt = case when state = 'waiting' and attempt > 0 then attempt else attempt + 1 end,
    state = 'running',
    started_at = coalesce(started_at, clock_timestamp()),
    ended_at = null,
    host = $2
where id = $1
returning attempt, started_at
