select t.id, u.name as user_name, t.created_at, t.last_used_at
from pgdag.api_token t
join pgdag.app_user u on u.id = t.user_id
order by t.id desc
