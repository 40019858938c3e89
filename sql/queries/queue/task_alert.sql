-- An alert raised by a worker about its attempt, fenced by the claim token.
insert into pgdag.alert (kind, workflow_instance_id, task_instance_id, payload)
select $3, t.workflow_instance_id, t.id,
       jsonb_build_object('task_instance_id', t.id, 'task', t.name, 'attempt', t.attempt,
                          'host', t.host, 'message', $4::text,
                          'instance', pgdag.alert_instance_context(t.workflow_instance_id))
from pgdag.task_instance t
where t.id = $1 and t.claim_token = $2
