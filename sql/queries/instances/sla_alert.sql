-- The run is not final by its SLA: one alert per run.
with flagged as (
    update pgdag.workflow_instance set sla_alerted = true
    where id = $1 and not sla_alerted
    returning id
)
insert into pgdag.alert (kind, workflow_instance_id, payload)
select 'sla_miss', id,
       jsonb_build_object('message', $2::text, 'instance', pgdag.alert_instance_context(id))
from flagged
