-- Cron schedules and their fires. A fire is idempotent by (schedule_id, fire_time): two
-- leaders for a moment cannot both start an instance for it.

create table pgdag.schedule (
    id              bigserial primary key,
    project_id      bigint not null references pgdag.project(id),
    workflow_code   bigint not null,
    -- 'yaml': declared by the workflow's `schedule:` (replaced on apply); 'api': added by REST.
    source          text not null default 'yaml' check (source in ('yaml', 'api')),
    cron            text not null,
    timezone        text not null default 'UTC',
    start_at        timestamptz,
    end_at          timestamptz,
    misfire         text not null default 'fire_once' check (misfire in ('fire_once', 'skip')),
    enabled         boolean not null default true,
    last_fire_at    timestamptz,
    next_fire_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create unique index schedule_yaml on pgdag.schedule (workflow_code) where source = 'yaml';
create index schedule_due on pgdag.schedule (next_fire_at) where enabled;

create table pgdag.schedule_fire (
    schedule_id           bigint not null references pgdag.schedule(id) on delete cascade,
    fire_time             timestamptz not null,
    workflow_instance_id  bigint not null,
    fired_at              timestamptz not null default now(),
    primary key (schedule_id, fire_time)
);
