-- The workflows of a project that is not deleted, by name; no row when there is no such project.
select p.id, wd.name
from pgdag.project p
left join pgdag.workflow_definition wd on wd.project_id = p.id
where p.name = $1 and p.deleted_at is null
order by wd.name
