-- Make a stored version the current one (no new version is written).
update pgdag.workflow_definition wd
set version = l.version, description = l.description, release = l.release, spec = l.spec,
    spec_hash = l.spec_hash, updated_at = now()
from pgdag.workflow_definition_log l
where wd.code = $1 and l.code = $1 and l.version = $2
returning wd.project_id, l.spec
