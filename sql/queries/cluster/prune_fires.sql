-- Schedule fires past their workflow's retention or the global one, in small batches. A
-- fire row guards against firing the same time twice; the schedule's `last_fire_at` and
-- `next_fire_at` have long moved past a fire this old.
with old as (
    select f.schedule_id, f.fire_time
    from pgdag.schedule_fire f
    join pgdag.schedule s on s.id = f.schedule_id
    left join pgdag.workflow_definition wd on wd.code = s.workflow_code
    where f.fired_at < greatest($2::timestamptz, now()) - coalesce(wd.retention, make_interval(days => $1))
    order by f.fired_at
    limit 500
)
delete from pgdag.schedule_fire f using old
where f.schedule_id = old.schedule_id and f.fire_time = old.fire_time
