delete from pgdag.project_secret s
using pgdag.project p
where p.id = s.project_id and p.name = $1 and s.name = $2
returning s.name
