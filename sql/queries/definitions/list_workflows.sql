-- The workflows of a project, with the first of their schedules (the YAML one first) and
-- how many they have.
select wd.code, p.name as project, wd.name, wd.version, wd.description, wd.release,
       wd.updated_at, s.cron, s.timezone, s.enabled, coalesce(s.count, 0) as schedules
from pgdag.workflow_definition wd
join pgdag.project p on p.id = wd.project_id
left join lateral (
    select s.cron, s.timezone, s.enabled, count(*) over () as count
    from pgdag.schedule s where s.workflow_code = wd.code
    order by (s.source = 'yaml') desc, s.id limit 1
) s on true
where p.name = $1
order by wd.name
