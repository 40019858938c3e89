select wl.spec, wl.version
from pgdag.workflow_definition_log wl
join pgdag.workflow_definition wd on wd.code = wl.code
join pgdag.project p on p.id = wd.project_id
where p.name = $1 and wd.name = $2 and wl.version = coalesce($3, wd.version)
