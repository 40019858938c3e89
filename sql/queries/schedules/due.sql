-- plan: per call (limit $n: a plan made without its value may read a whole table)
-- Schedules due now whose workflow is online, locked so that a fire is decided once.
select s.id, s.cron, s.timezone, s.start_at, s.end_at, s.misfire, s.last_fire_at, s.updated_at,
       s.next_fire_at, p.name as project, wd.name as workflow, wd.release, greatest($2::timestamptz, now()) as db_now
from pgdag.schedule s
join pgdag.project p on p.id = s.project_id
join pgdag.workflow_definition wd on wd.code = s.workflow_code
where s.enabled and s.next_fire_at <= greatest($2::timestamptz, now())
order by s.next_fire_at
limit $1
for update of s skip locked
