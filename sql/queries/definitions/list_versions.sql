select wl.version, wl.spec_hash, wl.created_at, wl.created_by, (wl.version = wd.version) as current
from pgdag.workflow_definition_log wl
join pgdag.workflow_definition wd on wd.code = wl.code
join pgdag.project p on p.id = wd.project_id
where p.name = $1 and wd.name = $2
order by wl.version
