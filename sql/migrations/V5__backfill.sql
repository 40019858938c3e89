-- A backfill: one instance per date, created up front, run serially or with a parallelism.
create table pgdag.backfill (
    id               bigserial primary key,
    project_id       bigint not null references pgdag.project(id),
    workflow_code    bigint not null,
    mode             text not null check (mode in ('serial', 'parallel')),
    parallelism      int not null check (parallelism >= 1),
    run_order        text not null check (run_order in ('asc', 'desc')),
    stop_on_failure  boolean not null default false,
    state            text not null default 'running'
        check (state in ('running', 'succeeded', 'failed', 'cancelled')),
    dates            jsonb not null,
    created_at       timestamptz not null default now(),
    ended_at         timestamptz
);
create index workflow_instance_by_backfill on pgdag.workflow_instance (backfill_id, id)
    where backfill_id is not null;
