-- $3 name (or null), $4 seconds until it expires (or null: never).
insert into pgdag.api_token (user_id, token_hash, name, expires_at)
values ($1, $2, $3,
        case when $4::float8 is null then null else now() + make_interval(secs => $4::float8) end)
returning id, expires_at
