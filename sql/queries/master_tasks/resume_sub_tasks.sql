-- On resume: paused sub_process tasks run again (their children are resumed too).
update pgdag.task_instance
set state = 'running', ended_at = null
where workflow_instance_id = $1 and task_type = 'sub_process' and state = 'paused'
returning id
