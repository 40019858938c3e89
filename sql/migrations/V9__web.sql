-- The web admin: login sessions, login throttling, and project membership.
-- (V8 is the alert outbox's.)

-- A browser session. The cookie carries a random secret; only its SHA-256 is stored, like
-- API tokens. `csrf_token` is sent back with every state-changing form and htmx request.
create table pgdag.web_session (
    id            bigserial primary key,
    token_hash    text not null unique,
    user_id       bigint not null references pgdag.app_user(id) on delete cascade,
    csrf_token    text not null,
    created_at    timestamptz not null default now(),
    last_seen_at  timestamptz not null default now(),
    expires_at    timestamptz not null
);
create index web_session_expiry on pgdag.web_session (expires_at);

-- Failed logins, by user name and by client address: too many in a window and the next
-- attempts are refused before the password is even checked.
create table pgdag.login_failure (
    id         bigserial primary key,
    user_name  text not null,
    remote     text not null,
    at         timestamptz not null default now()
);
create index login_failure_name on pgdag.login_failure (user_name, at);
create index login_failure_remote on pgdag.login_failure (remote, at);

-- Who may see (read) or change (write) a project. Admins may do anything without a row.
create table pgdag.project_member (
    project_id  bigint not null references pgdag.project(id) on delete cascade,
    user_id     bigint not null references pgdag.app_user(id) on delete cascade,
    access      text not null check (access in ('read', 'write')),
    primary key (project_id, user_id)
);
create index project_member_user on pgdag.project_member (user_id);

-- The home page and the instances page count and filter instances by day.
create index workflow_instance_created on pgdag.workflow_instance (created_at);

-- The servers page shows each worker's slots (and the `load` column, unused until now,
-- gets the host's load average with each heartbeat).
alter table pgdag.server add column max_tasks int;
