-- The relations of a stored version become the current ones (after delete_relations.sql).
insert into pgdag.workflow_task_relation
    (workflow_code, workflow_version, pre_task_code, pre_task_version, post_task_code,
     post_task_version, condition, delay_ms)
select workflow_code, workflow_version, pre_task_code, pre_task_version, post_task_code,
       post_task_version, condition, delay_ms
from pgdag.workflow_task_relation_log
where workflow_code = $1 and workflow_version = $2
