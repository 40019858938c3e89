-- The task versions a stored workflow version uses become the current task versions.
update pgdag.task_definition td
set version = tl.version, name = tl.name, task_type = tl.task_type, spec = tl.spec,
    spec_hash = tl.spec_hash, updated_at = now()
from pgdag.task_definition_log tl
where tl.code = td.code
  and (tl.code, tl.version) in (select r.post_task_code, r.post_task_version
                                from pgdag.workflow_task_relation_log r
                                where r.workflow_code = $1 and r.workflow_version = $2)
