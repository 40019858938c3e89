-- Failed command rows past the global retention, in small batches (a command that was
-- carried out is deleted when it is taken: only failed ones stay, for `pgdag status`).
with old as (
    select id from pgdag.command
    where state = 'failed' and processed_at < greatest($2::timestamptz, now()) - make_interval(days => $1)
    order by processed_at
    limit 500
)
delete from pgdag.command c using old where c.id = old.id
