-- A project's variables: one row when it has some, none when it never had.
select v.vals, v.updated_at
from pgdag.project_variables v
join pgdag.project p on p.id = v.project_id
where p.name = $1 and p.deleted_at is null
