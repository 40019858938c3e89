-- plan: per call (optional filters: the plan fits the values at hand)
-- Newest first, keyset-paginated by id. $6: the viewer's user id (null: an admin, who sees
-- every project); $7/$8: created on or after / before these times.
select wi.id, p.name as project, wd.name as workflow, wi.workflow_version, wi.state,
       wi.command_type, wi.schedule_time, wi.started_at, wi.ended_at, wi.params, wi.priority,
       wi.parent_instance_id, wi.error, wi.created_at, wi.created_by
from pgdag.workflow_instance wi
join pgdag.project p on p.id = wi.project_id
join pgdag.workflow_definition_log wd on wd.code = wi.workflow_code and wd.version = wi.workflow_version
where ($1::text is null or p.name = $1)
  and ($2::text is null or wd.name = $2)
  and ($3::text is null or wi.state = $3)
  and ($4::bigint is null or wi.id < $4)
  and ($6::bigint is null
       or exists (select 1 from pgdag.project_member m where m.project_id = wi.project_id and m.user_id = $6))
  and ($7::timestamptz is null or wi.created_at >= $7)
  and ($8::timestamptz is null or wi.created_at < $8)
order by wi.id desc
limit $5
