-- A project's secrets as anyone who may read the project sees them: names, never values.
select s.name, s.value_env, s.value_secret is not null as stored, s.updated_at
from pgdag.project_secret s
join pgdag.project p on p.id = s.project_id
where p.name = $1
order by s.name
