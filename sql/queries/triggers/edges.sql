-- Every trigger of a current definition as an edge: an end of upstream P/W starts a run of
-- downstream P/W (small: one row per workflow a definition's `triggers:` names).
select distinct t.upstream_project, t.upstream_workflow, p.name as project, wd.name as workflow
from pgdag.workflow_trigger t
join pgdag.workflow_definition wd on wd.code = t.workflow_code
join pgdag.project p on p.id = wd.project_id
