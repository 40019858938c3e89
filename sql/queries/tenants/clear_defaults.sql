delete from pgdag.project_tenant where tenant = $1
