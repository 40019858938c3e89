select id, name, roles, host, pid, worker_groups, running_tasks, started_at,
       (extract(epoch from (now() - heartbeat_at)) * 1000)::bigint as heartbeat_age_ms
from pgdag.server
where stopped_at is null
order by id
