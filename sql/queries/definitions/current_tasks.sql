-- As current_workflow.sql, for every task of a workflow at once ($1: their codes): the
-- current version and hash (null for a new task) and the highest version stored.
select c.code, td.version, td.spec_hash,
       (select max(l.version) from pgdag.task_definition_log l where l.code = c.code) as max_version
from unnest($1::bigint[]) as c(code)
left join pgdag.task_definition td on td.code = c.code
