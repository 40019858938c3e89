-- An alert's state from its deliveries: pending while one is open, failed when one gave
-- up (or a group it names is missing), else sent.
update pgdag.alert a
set state = case
        when s.open then 'pending'
        when s.failed or a.error is not null then 'failed'
        else 'sent'
    end,
    updated_at = now()
from (
    select alert_id,
           bool_or(state in ('pending', 'sending')) as open,
           bool_or(state = 'failed') as failed
    from pgdag.alert_delivery
    where alert_id = any($1::bigint[])
    group by alert_id
) s
where a.id = s.alert_id
