select wi.id, p.name as project, wd.name as workflow, wi.workflow_version, wi.state,
       wi.command_type, wi.schedule_time, wi.started_at, wi.ended_at, wi.params, wi.priority,
       wi.parent_instance_id, wi.error, wi.created_at, wi.created_by
from pgdag.workflow_instance wi
join pgdag.project p on p.id = wi.project_id
join pgdag.workflow_definition_log wd on wd.code = wi.workflow_code and wd.version = wi.workflow_version
where wi.id = $1
