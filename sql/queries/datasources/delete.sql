delete from pgdag.datasource d
using pgdag.project p
where p.id = d.project_id and p.name = $1 and d.name = $2
