select id, (extract(epoch from (greatest($2::timestamptz, now()) - heartbeat_at)) * 1000)::bigint as heartbeat_age_ms
from pgdag.server
where stopped_at is null and dead_at is null and id <> $1
