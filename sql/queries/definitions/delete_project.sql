-- After its workflows: a project's datasources, secrets, variables and hooks, and the project itself — marked deleted
-- when finished instances of it stay ($2 false), or removed with its members ($2 true).
with datasources as (
    delete from pgdag.datasource where project_id = $1
), secrets as (
    delete from pgdag.project_secret where project_id = $1
), variables as (
    delete from pgdag.project_variables where project_id = $1
), hooks as (
    delete from pgdag.workflow_hook where project_id = $1
), members as (
    delete from pgdag.project_member where project_id = $1 and $2
), marked as (
    update pgdag.project set deleted_at = now() where id = $1 and not $2
)
delete from pgdag.project where id = $1 and $2
