-- Drop the items of the mapped tasks $2 of instance $1 (every one when $2 is null), so the
-- parents expand their lists again: a rerun, or a retry of a task upstream of them. Their
-- log and queue rows go with them (no foreign key cascades there: V24).
with gone as (
    delete from pgdag.task_instance
    where workflow_instance_id = $1 and map_index is not null
      and ($2::bigint[] is null or task_code = any($2::bigint[]))
    returning id
), logs as (
    delete from pgdag.task_log l where l.task_instance_id = any(array(select id from gone))
), queued as (
    delete from pgdag.task_queue q where q.task_instance_id = any(array(select id from gone))
)
update pgdag.task_instance
set map_count = null
where workflow_instance_id = $1 and map_index is null and map_count is not null
  and ($2::bigint[] is null or task_code = any($2::bigint[]))
