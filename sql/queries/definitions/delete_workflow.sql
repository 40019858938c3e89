-- Delete a workflow's current definition, its relations and its schedules (YAML and API;
-- their fires go with them). The versions stay (finished instances refer to them).
with schedules as (
    delete from pgdag.schedule where workflow_code = $1 returning id
), relations as (
    delete from pgdag.workflow_task_relation where workflow_code = $1
), gone as (
    delete from pgdag.workflow_definition where code = $1 returning code
)
select (select count(*) from gone) as workflows, (select count(*) from schedules) as schedules
