-- Task types beyond shell and python: datasources for sql/procedure tasks, query results
-- kept with the task instance, branch decisions of switch/conditions tasks, and the link from
-- a sub_process task to the child instance it started.

create table pgdag.datasource (
    id               bigserial primary key,
    project_id       bigint not null references pgdag.project(id),
    name             text not null,
    db_type          text not null check (db_type in ('postgres', 'mysql')),
    url              text not null,
    -- The password comes from this environment variable of the worker, or
    password_env     text,
    -- is stored here: 12-byte nonce || AES-256-GCM ciphertext, keyed by PGDAG_SECRET_KEY.
    password_secret  bytea,
    updated_at       timestamptz not null default now(),
    unique (project_id, name)
);

-- `sql` tasks: rows of a query (bounded) or rows affected by a statement.
alter table pgdag.task_instance add column result jsonb;

-- `switch`/`conditions` tasks: the successor tasks the decision took (others are skipped).
alter table pgdag.task_instance add column branch text[];

-- `sub_process` tasks: the child instance runs for the parent's task instance.
alter table pgdag.workflow_instance add column parent_task_instance_id bigint
    references pgdag.task_instance(id) on delete set null;
create index workflow_instance_by_parent_task on pgdag.workflow_instance (parent_task_instance_id)
    where parent_task_instance_id is not null;
create index workflow_instance_by_parent on pgdag.workflow_instance (parent_instance_id)
    where parent_instance_id is not null;

-- `dependent` tasks look for the newest instance of a workflow in a date window.
create index workflow_instance_by_business_time on pgdag.workflow_instance
    (workflow_code, (coalesce(schedule_time, started_at, created_at)));
