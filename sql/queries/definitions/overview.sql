-- plan: per call (limit $n: a plan made without its value may read a whole table)
-- The workflows of a project with their schedule and their last $2 runs (newest first).
select wd.name, wd.version, wd.description, wd.release, wd.updated_at,
       s.cron, s.timezone, s.enabled, s.next_fire_at,
       coalesce(r.ids, '{}') as run_ids, coalesce(r.states, '{}') as run_states
from pgdag.workflow_definition wd
join pgdag.project p on p.id = wd.project_id
left join lateral (
    select s.cron, s.timezone, s.enabled, s.next_fire_at
    from pgdag.schedule s where s.workflow_code = wd.code
    order by (s.source = 'yaml') desc, s.id limit 1
) s on true
left join lateral (
    select array_agg(x.id order by x.id desc) as ids, array_agg(x.state order by x.id desc) as states
    from (select wi.id, wi.state from pgdag.workflow_instance wi
          where wi.workflow_code = wd.code order by wi.id desc limit $2) x
) r on true
where p.name = $1
order by wd.name
