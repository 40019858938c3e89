insert into pgdag.project_secret (project_id, name, value_secret, value_env)
values ($1, $2, $3, $4)
on conflict (project_id, name) do update
set value_secret = excluded.value_secret, value_env = excluded.value_env, updated_at = now()
returning (xmax = 0) as created
