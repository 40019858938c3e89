insert into pgdag.tenant (name, os_user, projects) values ($1, $2, $3)
on conflict (name) do update set os_user = excluded.os_user, projects = excluded.projects,
    updated_at = now()
where (pgdag.tenant.os_user, pgdag.tenant.projects) is distinct from (excluded.os_user, excluded.projects)
