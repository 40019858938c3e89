select t.name, t.os_user, t.projects,
       array(select d.project from pgdag.project_tenant d where d.tenant = t.name order by d.project) as default_for
from pgdag.tenant t where t.name = $1
