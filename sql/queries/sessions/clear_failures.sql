delete from pgdag.login_failure where user_name = $1
