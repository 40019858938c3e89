-- Finished backfills past the global retention whose instances are all pruned, in small
-- batches.
with old as (
    select b.id from pgdag.backfill b
    where b.state <> 'running'
      and b.ended_at < greatest($2::timestamptz, now()) - make_interval(days => $1)
      and not exists (select 1 from pgdag.workflow_instance wi where wi.backfill_id = b.id)
    order by b.ended_at
    limit 500
)
delete from pgdag.backfill b using old where b.id = old.id
