-- plan: per call (limit $n: a plan made without its value may read a whole table)
-- Claim due deliveries: a fresh claim token, one more attempt, and a lease that ends at
-- `next_attempt_at` (a claim whose process dies is claimed again after it).
with picked as materialized (
    select id from pgdag.alert_delivery
    where state in ('pending', 'sending')
      and next_attempt_at <= greatest($5::timestamptz, now())
      and attempts < $2
    order by next_attempt_at, id
    limit $1
    for update skip locked
)
update pgdag.alert_delivery d
set state = 'sending',
    attempts = d.attempts + 1,
    claim_token = gen_random_uuid(),
    claimed_by = $3,
    claimed_at = now(),
    next_attempt_at = greatest($5::timestamptz, now()) + $4 * interval '1 millisecond'
from picked, pgdag.alert a
where d.id = picked.id and a.id = d.alert_id
returning d.id, d.alert_id, d.alert_group, d.channel_index, d.channel, d.secret, d.attempts,
          d.claim_token, a.kind, a.payload, a.workflow_instance_id, a.task_instance_id,
          a.created_at
