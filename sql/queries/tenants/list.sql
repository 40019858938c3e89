select name, os_user, projects from pgdag.tenant order by name
