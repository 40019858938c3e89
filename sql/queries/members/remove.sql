delete from pgdag.project_member m
using pgdag.project p, pgdag.app_user u
where m.project_id = p.id and m.user_id = u.id and p.name = $1 and u.name = $2
