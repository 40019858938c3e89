-- Whether a workflow has a current definition (not deleted).
select exists (select 1 from pgdag.workflow_definition where code = $1)
