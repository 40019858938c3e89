-- Sent or failed alerts past the global retention whose instance is gone or was never
-- there (an instance's alerts go with it: prune_instances), in small batches.
with old as (
    select a.id
    from pgdag.alert a
    where a.state <> 'pending'
      and a.created_at < greatest($2::timestamptz, now()) - make_interval(days => $1)
      and not exists (select 1 from pgdag.workflow_instance wi where wi.id = a.workflow_instance_id)
    order by a.created_at
    limit 500
)
delete from pgdag.alert a using old where a.id = old.id
