-- A schedule added through the REST API (a workflow may have several).
insert into pgdag.schedule (project_id, workflow_code, source, cron, timezone, start_at, end_at, misfire, enabled, next_fire_at, updated_at)
values ($1, $2, 'api', $3, $4, $5, $6, $7, $8, greatest($9::timestamptz, now()), greatest($9::timestamptz, now()))
returning id
