-- A new password ends the user's sessions and, unless $3 keeps them, their API tokens.
with changed as (
    update pgdag.app_user set password_hash = $2 where name = $1 returning id
), sessions as (
    delete from pgdag.web_session where user_id in (select id from changed)
), tokens as (
    delete from pgdag.api_token where not $3::bool and user_id in (select id from changed)
    returning id
)
select id, (select count(*) from tokens) as tokens_revoked from changed
