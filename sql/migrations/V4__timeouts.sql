-- Workflow timeouts alert once per run.
alter table pgdag.workflow_instance add column timeout_alerted boolean not null default false;
