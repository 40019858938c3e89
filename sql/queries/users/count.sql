select count(*) from pgdag.app_user
