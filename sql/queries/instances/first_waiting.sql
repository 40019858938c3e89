-- The waiting instance whose turn is next: FIFO, or by priority then FIFO (serial_priority).
-- A backfill's instances wait for their backfill, not here.
select id from pgdag.workflow_instance
where workflow_code = $1 and state = 'waiting' and backfill_id is null
order by case when $2 then priority else 0 end, id
limit 1
