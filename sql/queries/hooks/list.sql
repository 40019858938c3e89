-- plan: per call (optional filters: the plan fits the values at hand)
-- A project's hooks (of one workflow when $2 is set), newest first; never the token.
select h.id, p.name as project, h.workflow, h.created_by, h.created_at, h.revoked_at
from pgdag.workflow_hook h
join pgdag.project p on p.id = h.project_id
where p.name = $1 and ($2::text is null or h.workflow = $2)
order by h.id desc
