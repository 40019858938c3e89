-- After its workflows: a project's datasources, and the project itself — marked deleted
-- when finished instances of it stay ($2 false), or removed with its members ($2 true).
with datasources as (
    delete from pgdag.datasource where project_id = $1
), members as (
    delete from pgdag.project_member where project_id = $1 and $2
), marked as (
    update pgdag.project set deleted_at = now() where id = $1 and not $2
)
delete from pgdag.project where id = $1 and $2
