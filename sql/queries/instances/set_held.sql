-- Hold ($3 true) or release ($3 false) task $1 of instance $2. A hold takes only a task
-- that has not started and is not held; a release only a held task. Returns the task's id
-- when it changed.
update pgdag.task_instance
set held = $3
where id = $1 and workflow_instance_id = $2 and held <> $3
  and (not $3 or state in ('pending', 'waiting', 'retrying'))
returning id
