-- Of the mapped tasks $2 of instance $1, those with an item still queued, dispatched or
-- running and none pending to be queued: another item of theirs that succeeded can
-- neither end them nor free a slot anything waits for.
select task_code
from pgdag.task_instance
where workflow_instance_id = $1 and map_index is not null and task_code = any($2::bigint[])
group by task_code
having bool_or(state in ('queued', 'dispatched', 'running'))
   and not bool_or(state = 'pending' and not held)
