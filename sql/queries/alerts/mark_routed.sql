-- Routed: `pending` with deliveries to make, else `skipped` (no group) or `failed` (the
-- groups it names do not exist; `error` says which).
update pgdag.alert a
set routed_at = now(), state = r.state, error = r.error, updated_at = now()
from unnest($1::bigint[], $2::text[], $3::text[]) as r(id, state, error)
where a.id = r.id
