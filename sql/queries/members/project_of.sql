-- The project that owns an instance, a task instance, a schedule or a backfill ($1 names
-- which kind $2 is).
select p.name
from pgdag.project p
where p.id = case $1
    when 'instance' then (select project_id from pgdag.workflow_instance where id = $2)
    when 'task_instance' then (select wi.project_id from pgdag.task_instance t
                               join pgdag.workflow_instance wi on wi.id = t.workflow_instance_id
                               where t.id = $2)
    when 'schedule' then (select project_id from pgdag.schedule where id = $2)
    when 'backfill' then (select project_id from pgdag.backfill where id = $2)
end
