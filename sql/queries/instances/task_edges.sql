-- The dependencies among the tasks of an instance's workflow version, as task codes (roots,
-- whose relation row has pre_task_code 0, left out): what the instance page's overview
-- lays the tasks out by, without reading the whole spec.
select r.pre_task_code, r.post_task_code
from pgdag.workflow_instance wi
join pgdag.workflow_task_relation_log r
    on r.workflow_code = wi.workflow_code and r.workflow_version = wi.workflow_version
where wi.id = $1 and r.pre_task_code <> 0
