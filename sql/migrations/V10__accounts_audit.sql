-- Accounts, sessions and the audit trail (issue 15).

-- Login throttling: one row per key (`name:<user name>` or `addr:<client address>`) with the
-- failures in a row and when the last attempt was. An attempt is taken by one upsert that
-- refuses while the key backs off, so concurrent requests cannot all slip past a check.
-- Replaces `login_failure`, whose count-then-insert raced and locked names out for good.
drop table pgdag.login_failure;
create table pgdag.login_throttle (
    key       text primary key,
    failures  int not null,
    last_at   timestamptz not null
);
create index login_throttle_last on pgdag.login_throttle (last_at);

-- API tokens get a name (unique per user; `admin (token ci)` in the audit trail) and an
-- optional expiry: an expired token answers 401 like a revoked (deleted) one.
alter table pgdag.api_token add column name text, add column expires_at timestamptz;
create unique index api_token_user_name on pgdag.api_token (user_id, name);
