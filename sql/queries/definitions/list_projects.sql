-- plan: per call (optional filters: the plan fits the values at hand)
-- $1: the viewer's user id, or null for an admin (who sees every project).
select p.name, p.description, p.created_at,
       (select count(*) from pgdag.workflow_definition wd where wd.project_id = p.id) as workflows
from pgdag.project p
where p.deleted_at is null and ($1::bigint is null
   or exists (select 1 from pgdag.project_member m where m.project_id = p.id and m.user_id = $1))
order by p.name
