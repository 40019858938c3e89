select u.id, u.name, u.is_admin, u.created_at, u.password_hash is not null as has_password,
       (select count(*) from pgdag.api_token t where t.user_id = u.id) as tokens
from pgdag.app_user u
order by u.name
