-- plan: per call (optional filters: the plan fits the values at hand)
-- One page of an instance's tasks, in the shape of get_tasks.sql: ids after $4, in id order,
-- at most $5, in one of the states $2 (null: any) and named with the prefix $3 (null: any).
select t.id, t.name, t.task_type, t.state, t.attempt, t.host, t.started_at, t.ended_at, t.exit_code,
       t.out_params, t.error, t.result, t.branch, t.cpu_user_ms, t.cpu_system_ms, t.max_rss_kib, t.held,
       t.map_index, t.map_count,
       (select max(c.id) from pgdag.workflow_instance c where c.parent_task_instance_id = t.id)
           as child_instance_id
from pgdag.task_instance t
where t.workflow_instance_id = $1
  and ($2::text[] is null or t.state = any($2::text[]))
  and ($3::text is null or starts_with(t.name, $3::text))
  and t.id > $4::bigint
order by t.id
limit $5::bigint
