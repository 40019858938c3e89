-- A new session; expired ones are swept at every login, so the table stays small.
with swept as (
    delete from pgdag.web_session where expires_at < now()
)
insert into pgdag.web_session (token_hash, user_id, csrf_token, expires_at)
values ($1, $2, $3, now() + make_interval(secs => $4::float8))
returning id
