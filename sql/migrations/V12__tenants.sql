-- Tenants: a name for an OS user that process tasks run as, and the projects whose
-- workflows may name it (issue 14). A workflow's `tenant:` is kept in its spec; the master
-- resolves it (and checks the project again) each time it queues a task.
create table pgdag.tenant (
    name        text primary key,
    os_user     text not null check (os_user ~ '^[a-z_][a-z0-9_-]*[$]?$' and length(os_user) <= 32),
    projects    text[] not null default '{}',
    updated_at  timestamptz not null default now()
);
