-- pgdag core schema: definitions (with version history), commands, instances, the hot task
-- queue, evaluation events, servers, logs, users and tokens.
-- States are spelled exactly as in src/model (TaskState, WorkflowState) and docs/lifecycle.md.

create schema if not exists pgdag;

-- ---------------------------------------------------------------------------------------
-- Definitions
-- ---------------------------------------------------------------------------------------
create table pgdag.project (
    id          bigserial primary key,
    name        text not null unique,
    description text not null default '',
    created_at  timestamptz not null default now()
);

-- A task definition: the current version in `task_definition`, every version in the log.
-- `spec` is the task exactly as written in YAML (type-specific keys included).
create table pgdag.task_definition (
    code        bigint primary key,
    version     int not null,
    project_id  bigint not null references pgdag.project(id),
    name        text not null,
    task_type   text not null,
    spec        jsonb not null,
    spec_hash   text not null,
    updated_at  timestamptz not null default now()
);
create table pgdag.task_definition_log (
    code        bigint not null,
    version     int not null,
    project_id  bigint not null references pgdag.project(id),
    name        text not null,
    task_type   text not null,
    spec        jsonb not null,
    spec_hash   text not null,
    created_at  timestamptz not null default now(),
    primary key (code, version)
);

create table pgdag.workflow_definition (
    code             bigint primary key,
    version          int not null,
    project_id       bigint not null references pgdag.project(id),
    name             text not null,
    description      text not null default '',
    release          text not null check (release in ('online', 'offline')),
    spec             jsonb not null,
    spec_hash        text not null,
    updated_at       timestamptz not null default now(),
    unique (project_id, name)
);
create table pgdag.workflow_definition_log (
    code             bigint not null,
    version          int not null,
    project_id       bigint not null references pgdag.project(id),
    name             text not null,
    description      text not null default '',
    release          text not null check (release in ('online', 'offline')),
    spec             jsonb not null,
    spec_hash        text not null,
    created_at       timestamptz not null default now(),
    primary key (code, version)
);

-- Relations of the current workflow version; entry tasks have pre_task_code = 0.
create table pgdag.workflow_task_relation (
    workflow_code     bigint not null,
    workflow_version  int not null,
    pre_task_code     bigint not null,
    pre_task_version  int not null,
    post_task_code    bigint not null,
    post_task_version int not null,
    condition         text not null check (condition in ('success', 'failure', 'always')),
    delay_ms          bigint not null default 0,
    primary key (workflow_code, pre_task_code, post_task_code)
);
create table pgdag.workflow_task_relation_log (
    workflow_code     bigint not null,
    workflow_version  int not null,
    pre_task_code     bigint not null,
    pre_task_version  int not null,
    post_task_code    bigint not null,
    post_task_version int not null,
    condition         text not null check (condition in ('success', 'failure', 'always')),
    delay_ms          bigint not null default 0,
    primary key (workflow_code, workflow_version, pre_task_code, post_task_code)
);

-- ---------------------------------------------------------------------------------------
-- Commands: anyone may INSERT one. The instance id is allocated at insert, so the caller
-- can keep it in its own transaction.
-- ---------------------------------------------------------------------------------------
create sequence pgdag.workflow_instance_id_seq;

create table pgdag.command (
    id                    bigserial primary key,
    command_type          text not null check (command_type in
        ('start', 'pause', 'resume', 'stop', 'rerun', 'start_failed', 'backfill', 'schedule',
         'force_success')),
    project               text,
    workflow              text,
    params                jsonb not null default '{}',
    workflow_instance_id  bigint not null default nextval('pgdag.workflow_instance_id_seq'),
    options               jsonb not null default '{}',
    state                 text not null default 'pending' check (state in ('pending', 'failed')),
    error                 text,
    created_at            timestamptz not null default now(),
    processed_at          timestamptz
);
create index command_pending on pgdag.command (id) where state = 'pending';

-- One NOTIFY per statement, not per row: NOTIFY takes a cluster-wide lock at commit.
create function pgdag.notify_command() returns trigger language plpgsql as $$
begin
    perform pg_notify('pgdag_command', '');
    return null;
end $$;
create trigger command_notify after insert on pgdag.command
    for each statement execute function pgdag.notify_command();

-- ---------------------------------------------------------------------------------------
-- Instances
-- ---------------------------------------------------------------------------------------
create table pgdag.workflow_instance (
    id                  bigint primary key,
    project_id          bigint not null references pgdag.project(id),
    workflow_code       bigint not null,
    workflow_version    int not null,
    state               text not null check (state in ('submitted', 'waiting', 'running',
        'pausing', 'paused', 'stopping', 'stopped', 'failed', 'succeeded')),
    command_type        text not null,
    params              jsonb not null default '{}',
    schedule_time       timestamptz,
    priority            smallint not null default 2,
    failure_strategy    text not null check (failure_strategy in ('continue', 'end')),
    parent_instance_id  bigint,
    backfill_id         bigint,
    host                text,
    error               text,
    created_at          timestamptz not null default now(),
    started_at          timestamptz,
    ended_at            timestamptz,
    foreign key (workflow_code, workflow_version) references pgdag.workflow_definition_log(code, version)
);
create index workflow_instance_by_definition on pgdag.workflow_instance (workflow_code, id desc);
create index workflow_instance_unfinished on pgdag.workflow_instance (id)
    where state not in ('paused', 'stopped', 'failed', 'succeeded');

create table pgdag.task_instance (
    id                    bigserial primary key,
    workflow_instance_id  bigint not null references pgdag.workflow_instance(id) on delete cascade,
    task_code             bigint not null,
    task_version          int not null,
    name                  text not null,
    task_type             text not null,
    state                 text not null check (state in ('pending', 'queued', 'dispatched',
        'running', 'retrying', 'waiting', 'succeeded', 'failed', 'skipped', 'killed', 'paused',
        'forced_success', 'need_failover')),
    attempt               int not null default 0,
    max_retries           int not null default 0,
    retry_interval_ms     bigint not null default 0,
    priority              smallint not null default 2,
    worker_group          text not null default 'default',
    -- What the worker runs, fully expanded by the master when it queues the attempt.
    payload               jsonb,
    host                  text,
    server_id             bigint,
    claim_token           uuid,
    kill_requested        boolean not null default false,
    exit_code             int,
    out_params            jsonb not null default '{}',
    error                 text,
    queued_at             timestamptz,
    dispatched_at         timestamptz,
    started_at            timestamptz,
    ended_at              timestamptz,
    retry_at              timestamptz,
    wait_until            timestamptz,
    foreign key (task_code, task_version) references pgdag.task_definition_log(code, version)
);
create index task_instance_by_instance on pgdag.task_instance (workflow_instance_id, id);
create index task_instance_on_server on pgdag.task_instance (server_id)
    where state in ('dispatched', 'running');

-- ---------------------------------------------------------------------------------------
-- The hot task queue: only attempts waiting for a worker. A claim deletes the row in the
-- same statement that marks the attempt dispatched.
-- ---------------------------------------------------------------------------------------
create table pgdag.task_queue (
    task_instance_id      bigint primary key references pgdag.task_instance(id) on delete cascade,
    workflow_instance_id  bigint not null,
    workflow_priority     smallint not null,
    task_priority         smallint not null,
    worker_group          text not null,
    queued_at             timestamptz not null default now()
) with (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 100);
-- Matches the claim's ORDER BY exactly (the seed's order: instance priority, instance FIFO,
-- task priority, task FIFO).
create index task_queue_claim on pgdag.task_queue
    (worker_group, workflow_priority, workflow_instance_id, task_priority, task_instance_id);

-- "Instance needs evaluation" events, written by whoever changed a task's state.
create table pgdag.instance_event (
    id                    bigserial primary key,
    workflow_instance_id  bigint not null,
    -- The task whose attempt ended, for events written by workers (null otherwise).
    task_instance_id      bigint,
    due_at                timestamptz not null default now()
) with (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 100);
create index instance_event_due on pgdag.instance_event (due_at);
create index instance_event_instance on pgdag.instance_event (workflow_instance_id);

-- Task output, in chunks; `seq` starts at 0 per task instance.
create table pgdag.task_log (
    task_instance_id  bigint not null references pgdag.task_instance(id) on delete cascade,
    seq               int not null,
    attempt           int not null,
    text              text not null,
    created_at        timestamptz not null default now(),
    primary key (task_instance_id, seq)
);

-- ---------------------------------------------------------------------------------------
-- Servers, users, tokens
-- ---------------------------------------------------------------------------------------
create table pgdag.server (
    id             bigserial primary key,
    name           text not null,
    roles          text[] not null,
    host           text not null,
    pid            int not null,
    worker_groups  text[] not null default '{}',
    version        text not null,
    started_at     timestamptz not null default now(),
    heartbeat_at   timestamptz not null default now(),
    running_tasks  int not null default 0,
    load           real not null default 0,
    stopped_at     timestamptz
);

create table pgdag.app_user (
    id             bigserial primary key,
    name           text not null unique,
    password_hash  text,
    is_admin       boolean not null default false,
    created_at     timestamptz not null default now()
);

create table pgdag.api_token (
    id           bigserial primary key,
    user_id      bigint not null references pgdag.app_user(id) on delete cascade,
    token_hash   text not null unique,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz
);

-- ---------------------------------------------------------------------------------------
-- Read views: columns are only ever added, never renamed or removed.
-- ---------------------------------------------------------------------------------------
create view pgdag.workflow_instance_v as
select wi.id,
       p.name as project,
       wd.name as workflow,
       wi.workflow_version as version,
       wi.state,
       wi.command_type,
       wi.schedule_time,
       wi.started_at,
       wi.ended_at,
       (array['highest', 'high', 'medium', 'low', 'lowest'])[wi.priority + 1] as priority,
       wi.parent_instance_id,
       wi.backfill_id
from pgdag.workflow_instance wi
join pgdag.project p on p.id = wi.project_id
join pgdag.workflow_definition_log wd on wd.code = wi.workflow_code and wd.version = wi.workflow_version
union all
-- A start command not yet taken by a master: its instance id exists already, `submitted`.
select c.workflow_instance_id,
       c.project,
       c.workflow,
       wd.version,
       'submitted',
       c.command_type,
       (c.options ->> 'schedule_time')::timestamptz,
       null::timestamptz,
       null::timestamptz,
       coalesce(wd.spec ->> 'priority', 'medium'),
       null::bigint,
       null::bigint
from pgdag.command c
left join pgdag.project p on p.name = c.project
left join pgdag.workflow_definition wd on wd.project_id = p.id and wd.name = c.workflow
where c.state = 'pending' and c.command_type in ('start', 'schedule');

create view pgdag.task_instance_v as
select ti.id,
       ti.workflow_instance_id,
       ti.name,
       ti.task_type as type,
       ti.state,
       ti.attempt,
       ti.host,
       ti.started_at,
       ti.ended_at,
       ti.exit_code
from pgdag.task_instance ti;

-- ---------------------------------------------------------------------------------------
-- SQL API: start a workflow from any application, inside its own transaction.
-- ---------------------------------------------------------------------------------------
create function pgdag.start_workflow(p_project text, p_workflow text, p_params jsonb default '{}')
returns bigint language plpgsql as $$
declare
    instance_id bigint;
begin
    if not exists (select 1 from pgdag.workflow_definition wd
                   join pgdag.project p on p.id = wd.project_id
                   where p.name = p_project and wd.name = p_workflow) then
        raise exception 'workflow %/% does not exist', p_project, p_workflow
            using errcode = 'no_data_found';
    end if;
    insert into pgdag.command (command_type, project, workflow, params)
    values ('start', p_project, p_workflow, coalesce(p_params, '{}'))
    returning workflow_instance_id into instance_id;
    return instance_id;
end $$;
