-- Cluster coordination: liveness, leader terms, failover, and the alert outbox.

alter table pgdag.server add column dead_at timestamptz;
create index server_live on pgdag.server (id) where stopped_at is null and dead_at is null;

-- The leader's term. Winning the leader advisory lock bumps it; every leader transaction
-- first checks that the term is still its own (FOR SHARE), so a leader cut off by a
-- partition cannot act after a successor took over.
create table pgdag.leader_term (
    id          int primary key default 1 check (id = 1),
    term        bigint not null,
    server_id   bigint,
    elected_at  timestamptz
);
insert into pgdag.leader_term (id, term) values (1, 0);

-- What to do with an attempt whose worker died.
alter table pgdag.task_instance
    add column on_worker_loss text not null default 'retry' check (on_worker_loss in ('retry', 'fail'));

-- Notifications to send, written in the transaction of the event that causes them.
create table pgdag.alert (
    id                    bigserial primary key,
    kind                  text not null,
    workflow_instance_id  bigint,
    payload               jsonb not null default '{}',
    state                 text not null default 'pending' check (state in ('pending', 'sent', 'failed')),
    created_at            timestamptz not null default now()
);
create index alert_pending on pgdag.alert (id) where state = 'pending';
