-- Live servers (neither stopped nor dead) per role, for the metrics scrape.
select r.role, count(*)
from pgdag.server s, unnest(s.roles) as r(role)
where s.stopped_at is null and s.dead_at is null
group by r.role
order by r.role
