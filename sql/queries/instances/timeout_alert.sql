-- The workflow ran past its timeout: one alert per run.
with flagged as (
    update pgdag.workflow_instance set timeout_alerted = true
    where id = $1 and not timeout_alerted
    returning id
)
insert into pgdag.alert (kind, workflow_instance_id, payload)
select 'workflow_timeout', id,
       jsonb_build_object('message', $2::text, 'instance', pgdag.alert_instance_context(id))
from flagged
