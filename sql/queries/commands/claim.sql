select id, command_type, project, workflow, params, workflow_instance_id, options
from pgdag.command
where state = 'pending'
order by id
limit $1
for update skip locked
