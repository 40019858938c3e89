-- Make a stored version the current one (no new version is written). The version's own
-- `retention` comes back with it (a duration as the spec writes it, e.g. 30d, which
-- Postgres reads as an interval).
update pgdag.workflow_definition wd
set version = l.version, description = l.description, release = l.release, spec = l.spec,
    spec_hash = l.spec_hash, retention = (l.spec ->> 'retention')::interval, updated_at = now()
from pgdag.workflow_definition_log l
where wd.code = $1 and l.code = $1 and l.version = $2
returning wd.project_id, l.spec
