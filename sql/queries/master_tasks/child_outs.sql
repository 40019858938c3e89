-- The out params of a child instance's succeeded tasks, merged in task order.
select coalesce(jsonb_object_agg(kv.key, kv.value), '{}'::jsonb)
from (
    select e.key, e.value
    from pgdag.task_instance t, jsonb_each(t.out_params) e
    where t.workflow_instance_id = $1 and t.state in ('succeeded', 'forced_success')
    order by t.id
) kv
