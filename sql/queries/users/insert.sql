insert into pgdag.app_user (name, password_hash, is_admin) values ($1, $2, $3)
returning id
