-- An alert about a task decided by the master (a dependent task that gave up).
insert into pgdag.alert (kind, workflow_instance_id, task_instance_id, payload)
select $2, t.workflow_instance_id, t.id,
       jsonb_build_object('task_instance_id', t.id, 'task', t.name, 'attempt', t.attempt,
                          'message', $3::text, 'details', $4::text,
                          'instance', pgdag.alert_instance_context(t.workflow_instance_id))
from pgdag.task_instance t
where t.id = $1
