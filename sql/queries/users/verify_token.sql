update pgdag.api_token t set last_used_at = now()
from pgdag.app_user u
where t.token_hash = $1 and u.id = t.user_id
returning u.id, u.name, u.is_admin
