select s.id, s.name, s.roles, s.host, s.pid, s.worker_groups, s.running_tasks, s.started_at,
       (extract(epoch from (now() - s.heartbeat_at)) * 1000)::bigint as heartbeat_age_ms,
       coalesce(lt.server_id = s.id, false) as leader, s.max_tasks, s.load as load_avg, s.version
from pgdag.server s
left join pgdag.leader_term lt on true
where s.stopped_at is null and s.dead_at is null
order by s.id
