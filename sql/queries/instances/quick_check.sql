-- Whether the instance still has a task that is not final (so a completion of a leaf
-- cannot finish it). The newest 64 tasks are read first, by the index, and the rest only
-- when none of them is open: tasks end roughly in the order they were queued, so in a
-- fan-out the newest are the ones still open. Read the other way, each completion of a
-- fan-out of 1,000 passed over every task that had finished. (`coalesce` runs its second
-- subquery only when the first found nothing.)
select coalesce(
    (select true
     from (select state from pgdag.task_instance
           where workflow_instance_id = $1
           order by workflow_instance_id desc, id desc
           limit 64) newest
     where newest.state not in ('succeeded', 'failed', 'skipped', 'killed', 'paused', 'forced_success')
     limit 1),
    exists(select 1 from pgdag.task_instance
           where workflow_instance_id = $1
             and state not in ('succeeded', 'failed', 'skipped', 'killed', 'paused', 'forced_success')))
