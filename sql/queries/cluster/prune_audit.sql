-- Audit rows past retention, in small batches. The table refuses deletes unless the
-- transaction says it prunes (pgdag.audit_prune); the setting is evaluated once, first.
with allow as (select set_config('pgdag.audit_prune', 'on', true) as ok),
old as (
    select id from pgdag.audit
    where at < greatest($2::timestamptz, now()) - make_interval(days => $1)
    order by id
    limit 500
)
delete from pgdag.audit a using old
where a.id = old.id and (select allow.ok from allow) = 'on'
