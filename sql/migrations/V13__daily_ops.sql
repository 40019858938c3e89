-- Daily operations (issue 18): commands about one task of an instance.
-- `retry_task`, `hold` and `release` name the task in `options.task_instance_id`.
alter table pgdag.command drop constraint command_command_type_check;
alter table pgdag.command add constraint command_command_type_check check (command_type in
    ('start', 'pause', 'resume', 'stop', 'rerun', 'start_failed', 'backfill', 'schedule',
     'force_success', 'retry_task', 'hold', 'release'));

-- `pgdag project delete P` without `--with-history`: the project's workflows, schedules and
-- datasources are gone, its finished instances stay readable, so the row stays, marked.
-- Applying a workflow to the project again brings it back.
alter table pgdag.project add column deleted_at timestamptz;
