-- plan: per call (optional filters: the plan fits the values at hand)
-- Instances created per UTC day over the last $1 days (today included), by state group.
-- $2: the viewer's user id, or null for an admin.
select d.day::date as day,
       count(wi.id) filter (where wi.state = 'succeeded') as succeeded,
       count(wi.id) filter (where wi.state = 'failed') as failed,
       count(wi.id) filter (where wi.state not in ('succeeded', 'failed')) as other
from generate_series((now() at time zone 'UTC')::date - ($1::int - 1), (now() at time zone 'UTC')::date, interval '1 day') as d(day)
left join pgdag.workflow_instance wi
       on wi.created_at >= (d.day at time zone 'UTC')
      and wi.created_at < ((d.day + interval '1 day') at time zone 'UTC')
      and ($2::bigint is null
           or exists (select 1 from pgdag.project_member m where m.project_id = wi.project_id and m.user_id = $2))
group by d.day
order by d.day
