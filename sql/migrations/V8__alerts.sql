-- Alerts: alert groups, and the `pgdag.alert` outbox (V2) turned into a delivery queue.
--
-- An alert row is written in the transaction of the event that causes it. The alert role
-- routes it once (decides its groups and channels: one `alert_delivery` row per channel),
-- then claims deliveries with SKIP LOCKED, sends them and records each answer, fenced by a
-- claim token. Lifecycle: docs/alerts.md.

-- Alert groups are global, like task groups. `channels` is the list of channels as applied,
-- without passwords; `secrets[i]` is channel i's stored SMTP password (12-byte nonce ||
-- AES-256-GCM ciphertext keyed by PGDAG_SECRET_KEY), null when it has none.
create table pgdag.alert_group (
    name        text primary key,
    channels    jsonb not null check (jsonb_typeof(channels) = 'array'),
    secrets     bytea[] not null default '{}',
    updated_at  timestamptz not null default now()
);

-- The outbox. `alert_group` is the group the event names (notify.group, send_result_to);
-- when it is null the group is found when the alert is routed (the notify group of the
-- alert's workflow). States: pending (not routed yet, or a delivery is still open), sent
-- (every delivery sent), failed (a delivery gave up, or a named group does not exist),
-- skipped (no group applies: kept as a record, nothing to send).
alter table pgdag.alert
    add column alert_group       text,
    add column task_instance_id  bigint,
    add column routed_at         timestamptz,
    add column error             text,
    add column updated_at        timestamptz not null default now();
alter table pgdag.alert drop constraint alert_state_check;
alter table pgdag.alert add constraint alert_state_check
    check (state in ('pending', 'sent', 'failed', 'skipped'));
create index alert_to_route on pgdag.alert (id) where routed_at is null;
create index alert_by_instance on pgdag.alert (workflow_instance_id)
    where workflow_instance_id is not null;

-- One delivery per (alert, group, channel). `channel` and `secret` are the channel as it was
-- when the alert was routed. A claim sets state `sending`, a new claim token, and
-- `next_attempt_at` to the end of its lease: a claim whose process died is claimed again
-- once the lease is over. Results are written only while the claim token still matches.
create table pgdag.alert_delivery (
    id               bigserial primary key,
    alert_id         bigint not null references pgdag.alert(id) on delete cascade,
    alert_group      text not null,
    channel_index    int not null,
    channel_type     text not null check (channel_type in ('email', 'webhook')),
    channel          jsonb not null,
    secret           bytea,
    state            text not null default 'pending'
        check (state in ('pending', 'sending', 'sent', 'failed')),
    attempts         int not null default 0,
    next_attempt_at  timestamptz not null default now(),
    claim_token      uuid,
    claimed_by       bigint,
    claimed_at       timestamptz,
    last_answer      text,
    sent_at          timestamptz,
    created_at       timestamptz not null default now(),
    unique (alert_id, alert_group, channel_index)
);
-- Matches the claim's ORDER BY.
create index alert_delivery_due on pgdag.alert_delivery (next_attempt_at, id)
    where state in ('pending', 'sending');

-- One wake-up per statement that inserts alerts (and none for an insert of no rows):
-- Postgres folds equal notifications of one transaction into one.
create function pgdag.notify_alert() returns trigger language plpgsql as $$
begin
    if exists (select 1 from new_alerts) then
        perform pg_notify('pgdag_alert', '');
    end if;
    return null;
end $$;
create trigger alert_notify after insert on pgdag.alert
    referencing new table as new_alerts
    for each statement execute function pgdag.notify_alert();

-- What an alert says about a workflow instance, as it is when the alert is written.
create function pgdag.alert_instance_context(instance_id bigint) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', wi.id,
        'project', p.name,
        'workflow', l.name,
        'version', wi.workflow_version,
        'state', wi.state,
        'command_type', wi.command_type,
        'schedule_time', wi.schedule_time,
        'started_at', wi.started_at,
        'ended_at', wi.ended_at,
        'parent_instance_id', wi.parent_instance_id,
        'backfill_id', wi.backfill_id)
    from pgdag.workflow_instance wi
    join pgdag.project p on p.id = wi.project_id
    join pgdag.workflow_definition_log l on l.code = wi.workflow_code and l.version = wi.workflow_version
    where wi.id = instance_id
$$;

-- The failed tasks of an instance, each with the end of its log (at most `log_bytes`).
create function pgdag.alert_failed_tasks(instance_id bigint, log_bytes int) returns jsonb
language sql stable as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'id', t.id,
        'name', t.name,
        'type', t.task_type,
        'state', t.state,
        'attempt', t.attempt,
        'host', t.host,
        'exit_code', t.exit_code,
        'error', t.error,
        'started_at', t.started_at,
        'ended_at', t.ended_at,
        'log_tail', (select right(string_agg(c.text, '' order by c.seq), log_bytes)
                     from (select text, seq from pgdag.task_log
                           where task_instance_id = t.id
                           order by seq desc limit 4) c)
    ) order by t.id), '[]'::jsonb)
    from pgdag.task_instance t
    where t.workflow_instance_id = instance_id and t.state = 'failed'
$$;

-- A `sql` task's kept result, cut to at most `max_rows` rows for an alert.
create function pgdag.alert_bounded_result(result jsonb, max_rows int) returns jsonb
language sql immutable as $$
    select case
        when jsonb_typeof(result -> 'rows') = 'array' then
            result || jsonb_build_object(
                'rows', coalesce((select jsonb_agg(r order by n)
                                  from jsonb_array_elements(result -> 'rows') with ordinality e(r, n)
                                  where n <= max_rows), '[]'::jsonb),
                'row_count', jsonb_array_length(result -> 'rows'))
        else coalesce(result, '{}'::jsonb)
    end
$$;
