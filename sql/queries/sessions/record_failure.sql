with swept as (
    delete from pgdag.login_failure where at < now() - interval '1 day'
)
insert into pgdag.login_failure (user_name, remote) values ($1, $2)
