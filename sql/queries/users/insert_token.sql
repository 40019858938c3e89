insert into pgdag.api_token (user_id, token_hash) values ($1, $2)
