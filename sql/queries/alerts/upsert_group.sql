-- Create or replace an alert group; true when it was created.
insert into pgdag.alert_group (name, channels, secrets)
values ($1, $2, $3)
on conflict (name) do update
set channels = excluded.channels, secrets = excluded.secrets, updated_at = now()
returning (xmax = 0) as created
