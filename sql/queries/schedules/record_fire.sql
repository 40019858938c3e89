-- Returns nothing when this fire was already recorded (another leader fired it).
insert into pgdag.schedule_fire (schedule_id, fire_time, workflow_instance_id)
values ($1, $2, $3)
on conflict do nothing
returning workflow_instance_id
