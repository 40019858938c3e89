select password_secret from pgdag.datasource where password_secret is not null limit 1
