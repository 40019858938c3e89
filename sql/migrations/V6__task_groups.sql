-- Task groups: named concurrency limits shared across workflows. The slots in use are the
-- group's task attempts that are queued, dispatched, running or being failed over — derived
-- from task states, so a crashed holder cannot leak a slot.
create table pgdag.task_group (
    name        text primary key,
    size        int not null check (size >= 1),
    updated_at  timestamptz not null default now()
);
alter table pgdag.task_instance add column task_group text;
create index task_instance_group_busy on pgdag.task_instance (task_group)
    where task_group is not null and state in ('queued', 'dispatched', 'running', 'need_failover');
create index task_instance_group_waiting on pgdag.task_instance (task_group)
    where task_group is not null and state = 'waiting';

-- "Start from chosen nodes": the tasks a run starts from (with everything downstream); the
-- other tasks are passed over as if `run: false`. Null: the whole workflow.
alter table pgdag.workflow_instance add column start_nodes text[];
