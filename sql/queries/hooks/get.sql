select h.id, p.name as project, h.workflow, h.created_by, h.created_at, h.revoked_at
from pgdag.workflow_hook h
join pgdag.project p on p.id = h.project_id
where h.id = $1
