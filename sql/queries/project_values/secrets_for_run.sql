-- What a worker needs to open the secrets a task names: the stored ciphertext or the name
-- of its environment variable.
select s.name, s.value_secret, s.value_env
from pgdag.project_secret s
join pgdag.project p on p.id = s.project_id
where p.name = $1 and s.name = any($2::text[])
