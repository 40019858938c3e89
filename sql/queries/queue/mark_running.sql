update pgdag.task_instance t
set state = 'running', started_at = now()
from unnest($1::bigint[], $2::uuid[]) as r(id, token)
where t.id = r.id and t.claim_token = r.token and t.state = 'dispatched'
returning t.id
