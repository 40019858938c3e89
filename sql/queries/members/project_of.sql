-- The project that owns an instance, a task instance, a schedule or a backfill ($1 names
-- which kind $2 is). An instance whose start command is still pending (shown as
-- `submitted`) belongs to the project the command names.
select p.name
from pgdag.project p
where p.id = case $1
    when 'instance' then coalesce(
        (select project_id from pgdag.workflow_instance where id = $2),
        (select cp.id from pgdag.command c join pgdag.project cp on cp.name = c.project
         where c.workflow_instance_id = $2 and c.state = 'pending'
           and c.command_type in ('start', 'schedule')
         order by c.id desc limit 1))
    when 'task_instance' then (select wi.project_id from pgdag.task_instance t
                               join pgdag.workflow_instance wi on wi.id = t.workflow_instance_id
                               where t.id = $2)
    when 'schedule' then (select project_id from pgdag.schedule where id = $2)
    when 'backfill' then (select project_id from pgdag.backfill where id = $2)
end
