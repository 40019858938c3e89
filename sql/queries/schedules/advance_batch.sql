update pgdag.schedule s
set last_fire_at = coalesce(u.last_fire_at, s.last_fire_at), next_fire_at = u.next_fire_at,
    updated_at = case when u.parked then now() else s.updated_at end
from unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::bool[])
    as u(id, last_fire_at, next_fire_at, parked)
where s.id = u.id
