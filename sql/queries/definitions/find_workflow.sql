select wd.code, wd.version, wd.project_id, wd.release, wd.spec
from pgdag.workflow_definition wd
join pgdag.project p on p.id = wd.project_id
where p.name = $1 and wd.name = $2
