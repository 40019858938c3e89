-- Take one login attempt for a throttle key: a row when it may go ahead, none while the key
-- backs off. The attempt counts as a failure until `throttle_clear`/`throttle_forgive` say
-- otherwise, so the check and the record are one statement under the row's lock.
-- $1 key, $2 failures allowed without waiting, $3 first wait (s), $4 longest wait (s),
-- $5 seconds after which a quiet key starts again from zero.
insert into pgdag.login_throttle as t (key, failures, last_at)
values ($1, 1, now())
on conflict (key) do update
set failures = case
        when t.last_at < now() - make_interval(secs => $5::float8) then 1
        else t.failures + 1
    end,
    last_at = now()
where t.last_at < now() - make_interval(secs => $5::float8)
   or t.failures < $2::int
   or t.last_at + make_interval(secs => least(
        $3::float8 * power(2, least(t.failures - $2::int, 30)), $4::float8)) <= now()
returning t.failures
