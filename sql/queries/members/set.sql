insert into pgdag.project_member (project_id, user_id, access)
select p.id, u.id, $3 from pgdag.project p, pgdag.app_user u where p.name = $1 and u.name = $2
on conflict (project_id, user_id) do update set access = excluded.access
returning project_id
