-- plan: per call (limit $n: a plan made without its value may read a whole table)
-- Alerts not routed yet, locked; with the notify groups of the workflows they are about
-- (the alert's instance, and for a failover the instances of the attempts it moved).
with picked as materialized (
    select id from pgdag.alert
    where routed_at is null
    order by id
    limit $1
    for update skip locked
)
select a.id, a.kind, a.alert_group,
       array(
           select distinct l.spec -> 'notify' ->> 'group'
           from pgdag.workflow_instance wi
           join pgdag.workflow_definition_log l
             on l.code = wi.workflow_code and l.version = wi.workflow_version
           where l.spec -> 'notify' ->> 'group' is not null
             and (wi.id = a.workflow_instance_id
                  or wi.id in (
                      -- Rows written by other applications may hold anything: no cast can fail.
                      select case when t ->> 'workflow_instance_id' ~ '^[0-9]{1,18}$'
                                  then (t ->> 'workflow_instance_id')::bigint end
                      from jsonb_array_elements(case when jsonb_typeof(a.payload -> 'task_instances') = 'array'
                                                     then a.payload -> 'task_instances'
                                                     else '[]'::jsonb end) t))
           order by 1
       ) as workflow_groups
from pgdag.alert a
join picked using (id)
order by a.id
