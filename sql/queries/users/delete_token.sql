delete from pgdag.api_token where id = $1
