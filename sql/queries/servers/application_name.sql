-- Rename this session in pg_stat_activity once its server id is known (a lock connection
-- the process owns: a direct or session-mode connection, never a transaction-pooled one).
select set_config('application_name', $1, false)
