-- plan: per call (optional filters: the plan fits the values at hand)
-- $2: the viewer's user id, or null for an admin (who sees every project).
select s.id, p.name as project, wd.name as workflow, s.source, s.cron, s.timezone, s.start_at,
       s.end_at, s.misfire, s.enabled, s.last_fire_at, s.next_fire_at, wd.release
from pgdag.schedule s
join pgdag.project p on p.id = s.project_id
join pgdag.workflow_definition wd on wd.code = s.workflow_code
where ($1::text is null or p.name = $1)
  and ($2::bigint is null
       or exists (select 1 from pgdag.project_member m where m.project_id = s.project_id and m.user_id = $2))
order by p.name, wd.name, s.id
