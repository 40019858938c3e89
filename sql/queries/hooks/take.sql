-- Take one start from a live hook's token bucket: refill it at $2 tokens per second up to
-- $3, then spend one when there is one. One statement under the row's lock, so concurrent
-- calls (on any API server) cannot overspend. No row: unknown or revoked token. `taken`
-- false: the bucket is empty.
with hook as (
    select h.id, least($3::float8, h.tokens
               + $2::float8 * greatest(0, extract(epoch from greatest($4::timestamptz, now()) - h.tokens_at)::float8)) as tokens
    from pgdag.workflow_hook h
    where h.token_hash = $1 and h.revoked_at is null
    for update
)
update pgdag.workflow_hook h
set tokens = case when hook.tokens >= 1 then hook.tokens - 1 else hook.tokens end,
    tokens_at = greatest($4::timestamptz, now())
from hook, pgdag.project p
where h.id = hook.id and p.id = h.project_id
returning h.id, p.name as project, h.workflow, hook.tokens >= 1 as taken, hook.tokens as tokens
