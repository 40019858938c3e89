select distinct post_task_code, post_task_version
from pgdag.workflow_task_relation_log
where workflow_code = $1 and workflow_version = $2
