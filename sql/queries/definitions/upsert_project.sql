insert into pgdag.project (name) values ($1)
on conflict (name) do update set name = excluded.name, deleted_at = null
returning id
