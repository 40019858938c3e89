insert into pgdag.alert_delivery (alert_id, alert_group, channel_index, channel_type, channel,
                                  state, attempts, last_answer, claimed_at, sent_at,
                                  next_attempt_at)
select $1, $2, r.idx, r.ty, r.channel, r.state, 1, r.answer, now(),
       case when r.state = 'sent' then now() end, now()
from unnest($3::int[], $4::text[], $5::jsonb[], $6::text[], $7::text[])
    as r(idx, ty, channel, state, answer)
