-- plan: per call (optional filters: the plan fits the values at hand)
select p.name as project, u.name as user_name, m.access
from pgdag.project_member m
join pgdag.project p on p.id = m.project_id
join pgdag.app_user u on u.id = m.user_id
where ($1::text is null or p.name = $1)
order by p.name, u.name
