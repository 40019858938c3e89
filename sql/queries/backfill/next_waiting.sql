-- Run order is id order: the ids were allocated in the backfill's date order.
select id from pgdag.workflow_instance
where backfill_id = $1 and state = 'waiting'
order by id
limit 1
for update skip locked
