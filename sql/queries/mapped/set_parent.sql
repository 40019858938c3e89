-- A mapped task's parent row moves on: `running` again (resumed), `pending` (suspended by
-- a pause) or ended; its error and out params are replaced.
update pgdag.task_instance
set state = $2,
    ended_at = case when $2 in ('succeeded', 'failed', 'skipped', 'killed') then clock_timestamp() end,
    error = $3,
    out_params = $4
where id = $1 and map_index is null
