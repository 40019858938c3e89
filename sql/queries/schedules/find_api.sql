-- The API-added schedule of a workflow that a `kind: schedule` document names: same
-- expression, zone, window and misfire policy.
select id, enabled
from pgdag.schedule
where workflow_code = $1 and source = 'api' and cron = $2 and timezone = $3
  and start_at is not distinct from $4 and end_at is not distinct from $5 and misfire = $6
order by id
limit 1
