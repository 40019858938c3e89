select version, spec_hash from pgdag.workflow_definition where code = $1
