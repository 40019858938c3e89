delete from pgdag.web_session where token_hash = $1
