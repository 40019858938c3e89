insert into pgdag.backfill (project_id, workflow_code, mode, parallelism, run_order, stop_on_failure, dates)
values ($1, $2, $3, $4, $5, $6, $7)
returning id
