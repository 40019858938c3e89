select seq, text from (
    select seq, text from pgdag.task_log
    where task_instance_id = $1 and seq < $2
    order by seq desc
    limit $3
) last
order by seq
