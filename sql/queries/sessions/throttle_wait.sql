-- Seconds until a backing-off key may try again (0 when it may now); same parameters as
-- `throttle_take` but the fifth.
select coalesce(max(extract(epoch from
           last_at + make_interval(secs => least(
               $3::float8 * power(2, least(failures - $2::int, 30)), $4::float8))
           - now())), 0)::float8 as wait
from pgdag.login_throttle
where key = $1 and failures >= $2::int
