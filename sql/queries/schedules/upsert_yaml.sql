-- The schedule a workflow's YAML declares. `next_fire_at = now()` lets the leader's firer
-- compute the first fire time on the database clock; a changed schedule starts afresh.
insert into pgdag.schedule (project_id, workflow_code, source, cron, timezone, start_at, end_at, misfire, enabled, next_fire_at)
values ($1, $2, 'yaml', $3, $4, $5, $6, $7, $8, now())
on conflict (workflow_code) where source = 'yaml' do update
set cron = excluded.cron, timezone = excluded.timezone, start_at = excluded.start_at,
    end_at = excluded.end_at, misfire = excluded.misfire, enabled = excluded.enabled,
    last_fire_at = null, next_fire_at = now(), updated_at = now()
