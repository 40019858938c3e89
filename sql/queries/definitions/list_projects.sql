select p.name, p.description, p.created_at,
       (select count(*) from pgdag.workflow_definition wd where wd.project_id = p.id) as workflows
from pgdag.project p
order by p.name
