select d.name, d.db_type, d.url, d.password_env, d.password_secret is not null as has_password,
       d.updated_at
from pgdag.datasource d
join pgdag.project p on p.id = d.project_id
where p.name = $1
order by d.name
