-- New versions of the changed tasks of one workflow, in one statement: each joins the log and
-- becomes its task's current version. Codes are distinct (task names are unique in a workflow).
with t as (
    select * from unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
        as t(code, version, name, task_type, spec, spec_hash)
), log as (
    insert into pgdag.task_definition_log (code, version, project_id, name, task_type, spec, spec_hash)
    select code, version, $1, name, task_type, spec, spec_hash from t
)
insert into pgdag.task_definition (code, version, project_id, name, task_type, spec, spec_hash)
select code, version, $1, name, task_type, spec, spec_hash from t
on conflict (code) do update set version = excluded.version, name = excluded.name,
    task_type = excluded.task_type, spec = excluded.spec, spec_hash = excluded.spec_hash,
    updated_at = now()
