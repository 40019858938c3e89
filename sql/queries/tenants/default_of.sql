-- The default tenant of project $1, if it has one.
select t.name, t.os_user, t.projects,
       array(select d.project from pgdag.project_tenant d where d.tenant = t.name order by d.project) as default_for
from pgdag.project_tenant p join pgdag.tenant t on t.name = p.tenant
where p.project = $1
