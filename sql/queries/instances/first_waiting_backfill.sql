-- The backfill of workflow $1 whose instance waits longest for a slot (max_active_runs).
select backfill_id from pgdag.workflow_instance
where workflow_code = $1 and state = 'waiting' and backfill_id is not null
order by id
limit 1
