-- Deliveries due again with no attempt left: a claim whose process stopped answering (its
-- lease ran out), or attempts used up under a lower limit. Returns their alerts.
with picked as materialized (
    select id from pgdag.alert_delivery
    where state in ('pending', 'sending')
      and next_attempt_at <= greatest($2::timestamptz, now())
      and attempts >= $1
    order by next_attempt_at, id
    for update skip locked
)
update pgdag.alert_delivery d
set state = 'failed',
    last_answer = case
        when d.state = 'sending' then
            'no answer recorded for attempt ' || d.attempts
            || ': the alert process that made it stopped (its lease ran out); no attempts left'
        else d.last_answer
    end
from picked
where d.id = picked.id
returning d.alert_id
