-- The current version and its hash, and the highest version stored (the current one can be
-- older after a switch back, and a deleted workflow keeps its versions: a new version is
-- numbered after the highest).
select wd.version, wd.spec_hash,
       (select max(l.version) from pgdag.workflow_definition_log l where l.code = $1) as max_version
from (select 1) one
left join pgdag.workflow_definition wd on wd.code = $1
