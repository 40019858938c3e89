select wd.code, wd.name, wd.version, wd.description, wd.release, wd.updated_at
from pgdag.workflow_definition wd
join pgdag.project p on p.id = wd.project_id
where p.name = $1
order by wd.name
