select t.id, t.name, t.task_type, t.state, t.attempt, t.host, t.started_at, t.ended_at, t.exit_code,
       t.out_params, t.error, t.result, t.branch, t.cpu_user_ms, t.cpu_system_ms, t.max_rss_kib, t.held,
       t.map_index, t.map_count,
       (select max(c.id) from pgdag.workflow_instance c where c.parent_task_instance_id = t.id)
           as child_instance_id
from pgdag.task_instance t
where t.workflow_instance_id = $1
order by t.id
