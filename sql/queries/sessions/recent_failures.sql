-- Failed logins in the window, for this name and for this client address, and the seconds
-- until the oldest counted one of each leaves the window.
select
    count(*) filter (where user_name = $1) as by_name,
    count(*) filter (where remote = $2) as by_remote,
    coalesce(extract(epoch from min(at) filter (where user_name = $1)
        + make_interval(secs => $3::float8) - now()), 0)::float8 as name_free_in,
    coalesce(extract(epoch from min(at) filter (where remote = $2)
        + make_interval(secs => $3::float8) - now()), 0)::float8 as remote_free_in
from pgdag.login_failure
where (user_name = $1 or remote = $2) and at > now() - make_interval(secs => $3::float8)
