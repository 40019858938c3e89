delete from pgdag.app_user where name = $1
