select d.db_type, d.url, d.password_env, d.password_secret
from pgdag.datasource d
join pgdag.project p on p.id = d.project_id
where p.name = $1 and d.name = $2
