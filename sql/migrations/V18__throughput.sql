-- In-process task types (sql, procedure, http) take a worker's in-process slots, not its
-- process slots: the queue records which kind an attempt is, so that one claim can take
-- up to N of each without hoarding the other kind.
alter table pgdag.task_queue add column in_process boolean not null default false;

update pgdag.task_queue q
set in_process = true
from pgdag.task_instance t
where t.id = q.task_instance_id and t.task_type in ('sql', 'procedure', 'http');

-- The claim's order within each kind.
create index task_queue_claim_kind on pgdag.task_queue
    (worker_group, in_process, workflow_priority, workflow_instance_id, task_priority, task_instance_id);
drop index pgdag.task_queue_claim;

-- The leader's cron firer sleeps until the next fire time; a schedule that becomes due
-- sooner (added, changed, switched on) wakes it on `pgdag_schedule`. Its own advances only
-- move fire times later and notify nothing.
create function pgdag.schedule_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('pgdag_schedule', '');
    return null;
end $$;

create trigger schedule_notify_insert after insert on pgdag.schedule
    for each row when (new.enabled and new.next_fire_at is not null)
    execute function pgdag.schedule_notify();

create trigger schedule_notify_update after update of next_fire_at, enabled on pgdag.schedule
    for each row when (new.enabled and new.next_fire_at is not null
        and (not old.enabled or old.next_fire_at is null or new.next_fire_at < old.next_fire_at))
    execute function pgdag.schedule_notify();
