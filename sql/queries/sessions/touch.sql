-- A live session's user; the idle expiry slides forward with each request, but never past
-- the absolute lifetime ($3 seconds after the login).
update pgdag.web_session s
set last_seen_at = now(),
    expires_at = least(now() + make_interval(secs => $2::float8),
                       s.created_at + make_interval(secs => $3::float8))
from pgdag.app_user u
where s.token_hash = $1 and s.expires_at > now()
  and s.created_at + make_interval(secs => $3::float8) > now()
  and u.id = s.user_id
returning s.id, s.csrf_token, u.id as user_id, u.name, u.is_admin
