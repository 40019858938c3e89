-- Revoke a token: its row goes, so the next request with it is refused at once.
delete from pgdag.api_token t
using pgdag.app_user u
where t.id = $1 and u.id = t.user_id
returning u.name as user_name, t.name
