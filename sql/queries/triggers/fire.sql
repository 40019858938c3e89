-- Instance $1 of $2/$3 ended in state $4: a start command, acting as $5, for each workflow
-- whose current definition has a trigger on that end and is online. The new run gets the
-- ended instance's merged out params as `trigger.NAME` params (its succeeded tasks', in
-- task order; a mapped task's as the lists its own row holds), `trigger.instance_id`, `trigger.workflow` and `trigger.state`, and its
-- schedule time. One row per matching workflow, online or not, with the instance id it
-- got (null: offline, not started).
with targets as (
    select p.name as project, wd.name as workflow, wd.release = 'online' as online
    from pgdag.workflow_trigger t
    join pgdag.workflow_definition wd on wd.code = t.workflow_code
    join pgdag.project p on p.id = wd.project_id
    where t.upstream_project = $2 and t.upstream_workflow = $3 and t.state = $4
), outs as (
    select coalesce(jsonb_object_agg('trigger.' || kv.key, kv.value), '{}'::jsonb) as params
    from (
        select e.key, e.value
        from pgdag.task_instance ti, jsonb_each(ti.out_params) e
        where ti.workflow_instance_id = $1 and ti.state in ('succeeded', 'forced_success')
          and ti.map_index is null  -- a mapped task's own row holds its items' outputs as lists
        order by ti.id
    ) kv
), upstream as (
    select o.params || jsonb_build_object(
               'trigger.instance_id', $1::bigint::text,
               'trigger.workflow', $2 || '/' || $3,
               'trigger.state', $4::text) as params,
           jsonb_strip_nulls(jsonb_build_object('schedule_time', wi.schedule_time)) as options
    from pgdag.workflow_instance wi, outs o
    where wi.id = $1
), started as (
    insert into pgdag.command (command_type, project, workflow, params, options, created_by)
    select 'start', t.project, t.workflow, u.params, u.options, $5
    from targets t, upstream u
    where t.online
    returning project, workflow, workflow_instance_id
)
select t.project, t.workflow, t.online, s.workflow_instance_id
from targets t
left join started s on s.project = t.project and s.workflow = t.workflow
order by t.project, t.workflow
