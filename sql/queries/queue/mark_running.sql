-- The attempts still running RUNNING_MARK_AFTER after they began (worker::executor); each
-- began `ran_us` before this flush.
update pgdag.task_instance t
set state = 'running', started_at = now() - r.ran_us * interval '1 microsecond'
from unnest($1::bigint[], $2::uuid[], $3::bigint[]) as r(id, token, ran_us)
where t.id = r.id and t.claim_token = r.token and t.state = 'dispatched'
returning t.id
