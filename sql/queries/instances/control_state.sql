-- A control command's effect on the instance: its new state; a restart (rerun,
-- start_failed) also clears ended_at and starts the clock again.
update pgdag.workflow_instance
set state = $2,
    ended_at = case when $3 then null else ended_at end,
    timeout_alerted = case when $3 then false else timeout_alerted end,
    started_at = case when $3 then clock_timestamp() else started_at end
where id = $1
