insert into pgdag.task_group (name, size) values ($1, $2)
on conflict (name) do update set size = excluded.size, updated_at = now()
where pgdag.task_group.size <> excluded.size
