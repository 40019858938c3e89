-- plan: per call (limit $n: a plan made without its value may read a whole table)
-- The last $3 chunks before seq $2, cut from the front to about $4 bytes (the last chunk
-- is always kept): a page of a huge log stays small however long its lines.
select seq, text from (
    select seq, text,
           sum(octet_length(text)) over (order by seq desc) - octet_length(text) as later_bytes
    from (
        select seq, text from pgdag.task_log
        where task_instance_id = $1 and seq < $2
        order by seq desc
        limit $3
    ) last
) sized
where later_bytes < $4
order by seq
