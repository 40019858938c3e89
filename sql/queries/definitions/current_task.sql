-- As current_workflow.sql, for one task definition.
select td.version, td.spec_hash,
       (select max(l.version) from pgdag.task_definition_log l where l.code = td.code) as max_version
from pgdag.task_definition td where td.code = $1
