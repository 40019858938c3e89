-- Projects of $2 whose default is another tenant than $1 (locked: the check holds until commit).
select project, tenant from pgdag.project_tenant
where project = any($2) and tenant <> $1
order by project
for update
