-- The newest migration applied (refinery's history table; missing: not migrated at all).
select coalesce(max(version), 0)::bigint from pgdag_schema_history
