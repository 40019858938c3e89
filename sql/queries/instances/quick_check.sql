-- Enough to tell whether attempts that just ended can change anything: their states and
-- task codes, and whether the instance still has a task that is not final.
select
    coalesce((select bool_and(state = 'succeeded') from pgdag.task_instance where id = any($2::bigint[])), false)
        as all_succeeded,
    array(select task_code from pgdag.task_instance where id = any($2::bigint[])) as task_codes,
    exists(select 1 from pgdag.task_instance
           where workflow_instance_id = $1
             and state not in ('succeeded', 'failed', 'skipped', 'killed', 'paused', 'forced_success'))
        as unfinished
