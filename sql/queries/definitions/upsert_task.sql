with log as (
    insert into pgdag.task_definition_log (code, version, project_id, name, task_type, spec, spec_hash)
    values ($1, $2, $3, $4, $5, $6, $7)
)
insert into pgdag.task_definition (code, version, project_id, name, task_type, spec, spec_hash)
values ($1, $2, $3, $4, $5, $6, $7)
on conflict (code) do update set version = excluded.version, name = excluded.name,
    task_type = excluded.task_type, spec = excluded.spec, spec_hash = excluded.spec_hash,
    updated_at = now()
