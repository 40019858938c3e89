select p.name as project, wd.spec, wd.release
from pgdag.workflow_definition_log wd
join pgdag.project p on p.id = wd.project_id
where wd.code = $1 and wd.version = $2
