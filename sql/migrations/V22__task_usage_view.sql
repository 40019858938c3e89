-- SQL clients see what a task attempt used (V16's columns), as the REST body and the task
-- page do: CPU time in user and system mode (ms) and the peak resident set (KiB) of its
-- process tree; null for tasks that ran no process or before V16. `create or replace view`
-- may only add columns at the end, so they follow `map_index`.
create or replace view pgdag.task_instance_v with (security_barrier) as
select ti.id,
       ti.workflow_instance_id,
       ti.name,
       ti.task_type as type,
       ti.state,
       ti.attempt,
       ti.host,
       ti.started_at,
       ti.ended_at,
       ti.exit_code,
       ti.map_index,
       ti.cpu_user_ms,
       ti.cpu_system_ms,
       ti.max_rss_kib
from pgdag.task_instance ti
where (select pgdag.client_projects(current_user::text)) is null
   or exists (select 1 from pgdag.workflow_instance wi
              join pgdag.project p on p.id = wi.project_id
              where wi.id = ti.workflow_instance_id
                and array[p.name] <@ (select pgdag.client_projects(current_user::text)));
