-- The hot tables' live rows, dead rows and rows changed since their last ANALYZE — none
-- when the server runs autovacuum, which then keeps them itself (master::keeper).
select s.relname::text, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze
from pg_stat_user_tables s
where s.schemaname = 'pgdag' and s.relname = any($1::text[])
  and not current_setting('autovacuum')::boolean
