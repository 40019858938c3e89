-- Milliseconds until the next delivery is due (0 when one is due, or an alert waits to be
-- routed); null when nothing is waiting. `greatest` ignores nulls (`greatest(0, null)` is
-- 0), so "no delivery waits" must stay null here, not become "due now".
select case
    when exists (select 1 from pgdag.alert where routed_at is null) then 0::float8
    else (select case when min(next_attempt_at) is null then null
                      else greatest(0, extract(epoch from min(next_attempt_at) - greatest($1::timestamptz, now())) * 1000)
                 end::float8
          from pgdag.alert_delivery
          where state in ('pending', 'sending'))
end
