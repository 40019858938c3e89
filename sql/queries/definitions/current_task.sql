select version, spec_hash from pgdag.task_definition where code = $1
