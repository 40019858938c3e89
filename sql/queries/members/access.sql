-- Whether the project exists, and the user's access to it (null: none).
select p.id, m.access
from pgdag.project p
left join pgdag.project_member m on m.project_id = p.id and m.user_id = $2
where p.name = $1
