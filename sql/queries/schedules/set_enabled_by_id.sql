-- As set_enabled.sql, for one schedule.
update pgdag.schedule s set enabled = $2, updated_at = now(),
    last_fire_at = case when $2 and not s.enabled then null else s.last_fire_at end,
    next_fire_at = case when $2 and not s.enabled then now() else s.next_fire_at end
where s.id = $1
returning s.id
