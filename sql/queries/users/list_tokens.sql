-- plan: per call (optional filters: the plan fits the values at hand)
-- Every token, or one user's ($1), newest first.
select t.id, t.name, u.name as user_name, t.created_at, t.last_used_at, t.expires_at,
       coalesce(t.expires_at <= now(), false) as expired
from pgdag.api_token t
join pgdag.app_user u on u.id = t.user_id
where $1::text is null or u.name = $1
order by t.id desc
