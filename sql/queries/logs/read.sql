-- plan: per call (limit $n: a plan made without its value may read a whole table)
select seq, text from pgdag.task_log
where task_instance_id = $1 and seq >= $2
order by seq
limit $3
