with log as (
    insert into pgdag.workflow_definition_log (code, version, project_id, name, description, release, spec, spec_hash, created_by)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
)
-- $10: the workflow's own retention in milliseconds, or null for the global one.
insert into pgdag.workflow_definition (code, version, project_id, name, description, release, spec, spec_hash, retention)
values ($1, $2, $3, $4, $5, $6, $7, $8, $10::bigint * interval '1 millisecond')
on conflict (code) do update set version = excluded.version, description = excluded.description,
    release = excluded.release, spec = excluded.spec, spec_hash = excluded.spec_hash,
    retention = excluded.retention, updated_at = now()
