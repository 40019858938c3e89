update pgdag.app_user set password_hash = $2 where name = $1
