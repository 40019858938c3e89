-- The waiting instance to start next: FIFO, or by priority then FIFO (serial_priority).
select id from pgdag.workflow_instance
where workflow_code = $1 and state = 'waiting'
order by case when $2 then priority else 0 end, id
limit 1
for update skip locked
