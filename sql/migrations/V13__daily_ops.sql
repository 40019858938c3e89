-- Daily operations (issue 18): commands about one task of an instance.
-- `retry_task`, `hold` and `release` name the task in `options.task_instance_id`.
alter table pgdag.command drop constraint command_command_type_check;
alter table pgdag.command add constraint command_command_type_check check (command_type in
    ('start', 'pause', 'resume', 'stop', 'rerun', 'start_failed', 'backfill', 'schedule',
     'force_success', 'retry_task', 'hold', 'release'));
