-- The out params of a child instance's succeeded tasks, merged in task order. Items of
-- mapped tasks are left out: their parent carries their outputs as lists.
select coalesce(jsonb_object_agg(kv.key, kv.value), '{}'::jsonb)
from (
    select e.key, e.value
    from pgdag.task_instance t, jsonb_each(t.out_params) e
    where t.workflow_instance_id = $1 and t.state in ('succeeded', 'forced_success')
      and t.map_index is null
    order by t.id
) kv
