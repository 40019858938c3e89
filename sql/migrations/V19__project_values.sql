-- Project variables, secrets and webhooks (issue 20, points 2, 3 and 5).

-- A `kind: variables` document: the whole map of one project, replaced on each apply.
-- The master reads it when it queues a task (`${var.NAME}`).
create table pgdag.project_variables (
    project_id  bigint primary key references pgdag.project(id) on delete cascade,
    vals        jsonb not null default '{}' check (jsonb_typeof(vals) = 'object'),
    updated_at  timestamptz not null default now()
);

-- A `kind: secret` document. The value is stored only encrypted (12-byte nonce ||
-- AES-256-GCM ciphertext, keyed by PGDAG_SECRET_KEY) or read from a worker's environment
-- variable; only the worker that runs a task opens it (`${secret.NAME}`).
create table pgdag.project_secret (
    project_id    bigint not null references pgdag.project(id) on delete cascade,
    name          text not null,
    value_secret  bytea,
    value_env     text,
    updated_at    timestamptz not null default now(),
    primary key (project_id, name),
    check ((value_secret is null) <> (value_env is null))
);

-- A webhook that starts a workflow: `POST /hooks/{token}`. Only the token's SHA-256 is
-- kept. A revoked hook stays (for the audit trail) and answers as an unknown one. `tokens`
-- and `tokens_at` are its rate limit's token bucket.
create table pgdag.workflow_hook (
    id           bigserial primary key,
    project_id   bigint not null references pgdag.project(id) on delete cascade,
    workflow     text not null,
    token_hash   text not null unique,
    created_by   text not null,
    created_at   timestamptz not null default now(),
    revoked_at   timestamptz,
    tokens       float8 not null,
    tokens_at    timestamptz not null default now()
);
create index workflow_hook_workflow on pgdag.workflow_hook (project_id, workflow);
