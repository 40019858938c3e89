select nextval('pgdag.workflow_instance_id_seq')
