-- Finished instances past retention, in small batches (their tasks and logs cascade).
with old as (
    select id from pgdag.workflow_instance
    where state in ('stopped', 'failed', 'succeeded') and ended_at < greatest($2::timestamptz, now()) - make_interval(days => $1)
    order by id
    limit 500
)
delete from pgdag.workflow_instance wi using old where wi.id = old.id
