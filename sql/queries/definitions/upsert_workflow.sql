with log as (
    insert into pgdag.workflow_definition_log (code, version, project_id, name, description, release, spec, spec_hash, created_by)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
)
insert into pgdag.workflow_definition (code, version, project_id, name, description, release, spec, spec_hash)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (code) do update set version = excluded.version, description = excluded.description,
    release = excluded.release, spec = excluded.spec, spec_hash = excluded.spec_hash,
    updated_at = now()
