insert into pgdag.datasource (project_id, name, db_type, url, password_env, password_secret)
values ($1, $2, $3, $4, $5, $6)
on conflict (project_id, name) do update
set db_type = excluded.db_type, url = excluded.url, password_env = excluded.password_env,
    password_secret = excluded.password_secret, updated_at = now()
returning (xmax = 0) as created
