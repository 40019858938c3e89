-- The answer of one attempt, written only while the claim is still this one.
update pgdag.alert_delivery
set state = $3,
    last_answer = $4,
    next_attempt_at = greatest($6::timestamptz, now()) + $5 * interval '1 millisecond',
    sent_at = case when $3 = 'sent' then now() end
where id = $1 and claim_token = $2 and state = 'sending'
returning alert_id
