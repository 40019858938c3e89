-- Whether the instance still has a task that is not final (so a completion of a leaf
-- cannot finish it).
select exists(select 1 from pgdag.task_instance
              where workflow_instance_id = $1
                and state not in ('succeeded', 'failed', 'skipped', 'killed', 'paused', 'forced_success'))
