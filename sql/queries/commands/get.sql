-- The latest command of an instance id: its state, error and (for a start) project.
select state, error, project from pgdag.command where workflow_instance_id = $1 order by id desc limit 1
