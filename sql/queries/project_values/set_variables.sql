-- Replace a project's variables (a `kind: variables` document is the whole set).
insert into pgdag.project_variables (project_id, vals) values ($1, $2)
on conflict (project_id) do update set vals = excluded.vals, updated_at = now()
