-- Daily operations (issue 18, points 5 and 6).
-- A held task is not dispatched until it is released (`hold` / `release` commands); the
-- instance cannot succeed while one of its tasks is held.
alter table pgdag.task_instance add column held boolean not null default false;
-- The wait before the next attempt when this one fails, decided when the attempt is queued
-- (`retry_backoff: exponential`, jittered); null: `retry_interval_ms`.
alter table pgdag.task_instance add column retry_delay_ms bigint;
-- `sla: { finish_within }`: when the run should be final (its schedule time, or its
-- submission by the scheduler's clock, plus finish_within), and whether the one
-- `sla_miss` alert of the run was written.
alter table pgdag.workflow_instance
    add column sla_due_at timestamptz,
    add column sla_alerted boolean not null default false;
