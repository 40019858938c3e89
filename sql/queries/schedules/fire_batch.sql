-- Record a round's fires and insert their commands in one statement. A fire already
-- recorded (another leader fired it) is skipped by the key (schedule_id, fire_time).
with f as (
    select *
    from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[])
        as f(schedule_id, fire_time, project, workflow)
), recorded as (
    insert into pgdag.schedule_fire (schedule_id, fire_time, workflow_instance_id)
    select schedule_id, fire_time, nextval('pgdag.workflow_instance_id_seq') from f
    on conflict do nothing
    returning schedule_id, fire_time, workflow_instance_id
)
insert into pgdag.command (command_type, project, workflow, params, options, workflow_instance_id, created_by)
select 'schedule', f.project, f.workflow, '{}',
       jsonb_build_object('schedule_time', to_jsonb(r.fire_time), 'schedule_id', r.schedule_id),
       r.workflow_instance_id, 'schedule'
from recorded r
join f on f.schedule_id = r.schedule_id and f.fire_time = r.fire_time
returning id
