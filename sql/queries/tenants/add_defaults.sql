insert into pgdag.project_tenant (project, tenant) select unnest($2::text[]), $1
