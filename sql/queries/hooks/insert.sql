-- A new hook with a full bucket ($4 tokens).
insert into pgdag.workflow_hook (project_id, workflow, token_hash, created_by, tokens, tokens_at)
values ($1, $2, $3, $5, $4, greatest($6::timestamptz, now()))
returning id, created_at
