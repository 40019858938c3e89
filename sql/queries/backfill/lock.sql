select id, state, parallelism, stop_on_failure from pgdag.backfill where id = $1 for update
