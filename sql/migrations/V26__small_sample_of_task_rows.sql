-- `task_instance` is analyzed from a sample of 3,000 rows instead of 30,000: ANALYZE reads
-- 300 rows per unit of the largest statistics target of the table's columns (100 by
-- default) and sorts each column's sample. Every 1,000 attempts the table keeper (or
-- autovacuum, whose rule it follows) analyzes it; at 38,000 task rows that took 220–280 ms,
-- 19–25 ms at a target of 10, and it was the largest share of the database time of a
-- 2,000-task `sql` instance (bench/README.md, "ANALYZE of the task rows"). pgdag's
-- statements reach task rows by their keys (id, instance, server, group); their plans need
-- the row counts and a rough number of distinct values, not fine histograms. The payload
-- columns keep no statistics at all (V23). A column added later must be given the same
-- target (tests/it/queries.rs checks every column).
alter table pgdag.task_instance
    alter column id set statistics 10,
    alter column workflow_instance_id set statistics 10,
    alter column task_code set statistics 10,
    alter column task_version set statistics 10,
    alter column name set statistics 10,
    alter column task_type set statistics 10,
    alter column state set statistics 10,
    alter column attempt set statistics 10,
    alter column max_retries set statistics 10,
    alter column retry_interval_ms set statistics 10,
    alter column priority set statistics 10,
    alter column worker_group set statistics 10,
    alter column host set statistics 10,
    alter column server_id set statistics 10,
    alter column claim_token set statistics 10,
    alter column kill_requested set statistics 10,
    alter column exit_code set statistics 10,
    alter column queued_at set statistics 10,
    alter column dispatched_at set statistics 10,
    alter column started_at set statistics 10,
    alter column ended_at set statistics 10,
    alter column retry_at set statistics 10,
    alter column wait_until set statistics 10,
    alter column on_worker_loss set statistics 10,
    alter column task_group set statistics 10,
    alter column held set statistics 10,
    alter column retry_delay_ms set statistics 10,
    alter column cpu_user_ms set statistics 10,
    alter column cpu_system_ms set statistics 10,
    alter column max_rss_kib set statistics 10,
    alter column map_index set statistics 10,
    alter column map_count set statistics 10,
    alter column map_value set statistics 10;
