insert into pgdag.audit (actor, action, project, target, detail)
values ($1, $2, $3, $4, coalesce($5::jsonb, '{}'))
