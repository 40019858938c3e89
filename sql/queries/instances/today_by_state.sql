-- plan: per call (optional filters: the plan fits the values at hand)
-- Instances created today (UTC) by state. $1: the viewer's user id, or null for an admin.
select wi.state, count(*) as n
from pgdag.workflow_instance wi
where wi.created_at >= ((now() at time zone 'UTC')::date at time zone 'UTC')
  and ($1::bigint is null
       or exists (select 1 from pgdag.project_member m where m.project_id = wi.project_id and m.user_id = $1))
group by wi.state
