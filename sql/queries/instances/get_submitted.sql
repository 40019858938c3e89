-- A pending start command, shown as its instance in state `submitted`.
select c.workflow_instance_id as id, c.project, c.workflow, wd.version, c.params, c.command_type,
       (c.options ->> 'schedule_time')::timestamptz as schedule_time,
       coalesce(wd.spec ->> 'priority', 'medium') as priority, c.created_by
from pgdag.command c
left join pgdag.project p on p.name = c.project
left join pgdag.workflow_definition wd on wd.project_id = p.id and wd.name = c.workflow
where c.workflow_instance_id = $1 and c.state = 'pending' and c.command_type in ('start', 'schedule')
order by c.id desc
limit 1
