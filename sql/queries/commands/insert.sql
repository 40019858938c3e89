insert into pgdag.command (command_type, project, workflow, params, options, workflow_instance_id, created_by)
values ($1, $2, $3, $4, $5, coalesce($6::bigint, nextval('pgdag.workflow_instance_id_seq')), $7)
returning id, workflow_instance_id
