update pgdag.task_instance t
set state = u.state,
    attempt = case when u.state = 'succeeded' and t.attempt = 0 then 1 else t.attempt end,
    started_at = case when u.state = 'succeeded' then coalesce(t.started_at, clock_timestamp()) else t.started_at end,
    ended_at = case when u.state in ('succeeded', 'skipped', 'killed', 'failed') then clock_timestamp() else t.ended_at end,
    wait_until = u.wait_until,
    error = coalesce(u.error, t.error)
from unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[]) as u(id, state, wait_until, error)
where t.id = u.id
