-- Issue 17: what each attempt cost, retention of everything, task logs partitioned by time.

-- What a process task's attempt cost, from its child's resource usage (wait4 / waitid);
-- null for attempts that ran no process (sql, http, master-side tasks).
alter table pgdag.task_instance
    add column cpu_user_ms   bigint,
    add column cpu_system_ms bigint,
    add column max_rss_kib   bigint;

-- A workflow's own `retention` (YAML), over PGDAG_RETENTION_DAYS; null: the global one.
alter table pgdag.workflow_definition add column retention interval;

-- What the pruner looks for, so that a round reads only what it deletes.
create index workflow_instance_final_end on pgdag.workflow_instance (ended_at)
    where state in ('paused', 'stopped', 'failed', 'succeeded');
create index schedule_fire_fired_at on pgdag.schedule_fire (fired_at);
create index command_failed_at on pgdag.command (processed_at) where state = 'failed';
create index alert_done_created on pgdag.alert (created_at) where state <> 'pending';

-- ---------------------------------------------------------------------------------------
-- Task logs, partitioned by week of `created_at` (UTC weeks, Monday to Monday), so that
-- pruning drops a whole week instead of deleting row by row. The primary key carries the
-- partition key (Postgres requires it); `(task_instance_id, seq)` stays unique in practice
-- because the only writers (queue/append_logs, master_tasks/append_log) never write a
-- `seq` that exists. A default partition takes rows no weekly partition covers (the
-- leader creates weeks ahead; the default stays empty unless no leader ran for weeks).
-- ---------------------------------------------------------------------------------------
alter table pgdag.task_log rename to task_log_legacy;
alter table pgdag.task_log_legacy rename constraint task_log_pkey to task_log_legacy_pkey;
alter table pgdag.task_log_legacy
    rename constraint task_log_task_instance_id_fkey to task_log_legacy_task_instance_id_fkey;

create table pgdag.task_log (
    task_instance_id  bigint not null references pgdag.task_instance(id) on delete cascade,
    seq               int not null,
    attempt           int not null,
    text              text not null,
    created_at        timestamptz not null default now(),
    primary key (task_instance_id, seq, created_at)
) partition by range (created_at);
create table pgdag.task_log_default partition of pgdag.task_log default;

-- The weekly partitions: name, lower and upper bound (lower -infinity for the legacy one).
create function pgdag.task_log_partitions() returns table (name text, lo timestamptz, hi timestamptz)
language sql stable as $$
    select c.relname::text,
           case when b like '%FROM (MINVALUE)%' then '-infinity'
                else (regexp_match(b, 'FROM \(''([^'']*)''\)'))[1] end::timestamptz,
           (regexp_match(b, 'TO \(''([^'']*)''\)'))[1]::timestamptz
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    cross join lateral pg_get_expr(c.relpartbound, c.oid) b
    where i.inhparent = 'pgdag.task_log'::regclass and b <> 'DEFAULT'
$$;

-- Creates the weekly partitions from the week of `at` to `weeks_ahead` weeks after it
-- (those that do not exist and overlap none); returns how many it created.
create function pgdag.task_log_create_partitions(at timestamptz, weeks_ahead int) returns int
language plpgsql as $$
declare
    w timestamptz;
    made int := 0;
begin
    for i in 0..weeks_ahead loop
        w := (date_trunc('week', at at time zone 'UTC') + make_interval(weeks => i)) at time zone 'UTC';
        continue when exists (select 1 from pgdag.task_log_partitions() p
                              where p.lo < w + interval '1 week' and p.hi > w);
        execute format('create table pgdag.%I partition of pgdag.task_log for values from (%L) to (%L)',
                       'task_log_' || to_char(w at time zone 'UTC', 'YYYYMMDD'),
                       w, w + interval '1 week');
        made := made + 1;
    end loop;
    return made;
end $$;

-- Drops the partitions that end before `cutoff` and hold no row of an instance that
-- retention keeps (see cluster/prune_instances: final, ended longer ago than its
-- workflow's retention, or the global `global_days`). A partition that still holds such a
-- row stays; the rows of pruned instances in it go row by row with their instance (the
-- foreign key cascades), and the partition is dropped in a later round once nothing kept is
-- left in it. Returns the names dropped.
create function pgdag.task_log_drop_partitions(cutoff timestamptz, at timestamptz, global_days int)
returns setof text
language plpgsql as $$
declare
    p record;
begin
    for p in select * from pgdag.task_log_partitions() where hi <= cutoff order by hi loop
        continue when exists (
            select 1
            from pgdag.workflow_instance wi
            left join pgdag.workflow_definition wd on wd.code = wi.workflow_code
            join pgdag.task_instance t on t.workflow_instance_id = wi.id
            where wi.created_at < p.hi
              and not (wi.state in ('paused', 'stopped', 'failed', 'succeeded')
                       and wi.ended_at < at - coalesce(wd.retention, make_interval(days => global_days)))
              and exists (select 1 from pgdag.task_log l
                          where l.task_instance_id = t.id and l.created_at >= p.lo and l.created_at < p.hi));
        execute format('drop table pgdag.%I', p.name);
        return next p.name;
    end loop;
end $$;

-- The rows already there stay where they are: the old table becomes the partition of
-- everything before the week after its newest row (no copy; an index for the new key is
-- built). An empty old table is simply dropped.
do $$
declare
    newest timestamptz;
    hi timestamptz;
begin
    select max(created_at) into newest from pgdag.task_log_legacy;
    if newest is null then
        drop table pgdag.task_log_legacy;
        perform pgdag.task_log_create_partitions(now(), 2);
    else
        hi := (date_trunc('week', newest at time zone 'UTC') + interval '1 week') at time zone 'UTC';
        alter table pgdag.task_log_legacy drop constraint task_log_legacy_task_instance_id_fkey;
        alter table pgdag.task_log_legacy drop constraint task_log_legacy_pkey;
        -- Proves the bound so that the attach does not scan the table again under its lock.
        execute format('alter table pgdag.task_log_legacy add constraint task_log_legacy_bound check (created_at is not null and created_at < %L)', hi);
        execute format('alter table pgdag.task_log attach partition pgdag.task_log_legacy for values from (minvalue) to (%L)', hi);
        alter table pgdag.task_log_legacy drop constraint task_log_legacy_bound;
        perform pgdag.task_log_create_partitions(greatest(now(), hi), 2);
    end if;
end $$;
