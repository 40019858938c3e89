-- Replace the triggers of workflow $1 with the rows (upstream project, workflow, state).
with gone as (
    delete from pgdag.workflow_trigger where workflow_code = $1
)
insert into pgdag.workflow_trigger (upstream_project, upstream_workflow, state, workflow_code)
select distinct u.project, u.workflow, u.state, $1
from unnest($2::text[], $3::text[], $4::text[]) as u(project, workflow, state)
