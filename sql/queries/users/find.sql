select id, name, password_hash, is_admin from pgdag.app_user where name = $1
