with gone as (
    delete from pgdag.task_queue where task_instance_id = any($1::bigint[])
    returning task_instance_id
), killed_in_queue as (
    update pgdag.task_instance set state = 'killed', ended_at = clock_timestamp()
    where id in (select task_instance_id from gone)
)
update pgdag.task_instance set kill_requested = true
where id = any($1::bigint[])
  and id not in (select task_instance_id from gone)
  and state in ('dispatched', 'running')
