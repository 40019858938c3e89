insert into pgdag.command (command_type, project, workflow, params, options, workflow_instance_id)
values ($1, $2, $3, $4, $5, coalesce($6::bigint, nextval('pgdag.workflow_instance_id_seq')))
returning id, workflow_instance_id
