select name, os_user, projects from pgdag.tenant where name = $1
