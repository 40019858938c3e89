-- Serializes the execution-type decision of one workflow: simultaneous starts queue here.
select code from pgdag.workflow_definition where code = $1 for update
