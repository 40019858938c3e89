-- Switching a schedule on restarts it from now: no catch-up for the time it was off.
update pgdag.schedule s set enabled = $3, updated_at = now(),
    last_fire_at = case when $3 and not s.enabled then null else s.last_fire_at end,
    next_fire_at = case when $3 and not s.enabled then now() else s.next_fire_at end
from pgdag.workflow_definition wd
join pgdag.project p on p.id = wd.project_id
where s.workflow_code = wd.code and p.name = $1 and wd.name = $2
returning s.id, s.cron, s.timezone
