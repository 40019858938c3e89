-- The user of a live token (not expired; a revoked one no longer exists).
update pgdag.api_token t set last_used_at = now()
from pgdag.app_user u
where t.token_hash = $1 and u.id = t.user_id
  and (t.expires_at is null or t.expires_at > now())
returning u.id, u.name, u.is_admin, t.id as token_id, t.name as token_name
