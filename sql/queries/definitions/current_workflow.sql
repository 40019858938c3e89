-- The current version and its hash, and the highest version stored (the current one can be
-- older after a switch back; a new version is numbered after the highest).
select wd.version, wd.spec_hash,
       (select max(l.version) from pgdag.workflow_definition_log l where l.code = wd.code) as max_version
from pgdag.workflow_definition wd where wd.code = $1
