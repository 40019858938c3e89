-- Mapped tasks (`foreach:`, issue 20 point 1). The task's own row (the *parent*, what the
-- DAG planner sees) gets `map_count` once the master has expanded its list; each element
-- runs as an *item* row with the parent's task code and version, named `task[i]`, with
-- `map_index = i` and its element in `map_value` (what `${item}` expands to). Ordinary
-- rows have none of them.
alter table pgdag.task_instance
    add column map_index int,
    add column map_count int,
    add column map_value jsonb;
create index task_instance_items on pgdag.task_instance (workflow_instance_id, task_code)
    where map_index is not null;

-- SQL clients see items too, with their index (null for every other row).
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
       ti.map_index
from pgdag.task_instance ti
where (select pgdag.client_projects(current_user::text)) is null
   or exists (select 1 from pgdag.workflow_instance wi
              join pgdag.project p on p.id = wi.project_id
              where wi.id = ti.workflow_instance_id
                and array[p.name] <@ (select pgdag.client_projects(current_user::text)));
