-- psql -f phases.sql abdb: per instance, when (ms after its start) its first and last
-- attempt was queued, claimed and ended, and how long it took to end after its last
-- attempt. Attempts' ended_at is the time their outcome was written.
with t as (
    select w.id, w.started_at ws, w.ended_at we, ti.queued_at q, ti.dispatched_at d, ti.ended_at e
    from pgdag.workflow_instance w join pgdag.task_instance ti on ti.workflow_instance_id = w.id)
select id,
    round(extract(epoch from max(we) - min(ws)) * 1000) as wall,
    round(extract(epoch from min(q) - min(ws)) * 1000) as first_queued,
    round(extract(epoch from min(d) - min(ws)) * 1000) as first_claimed,
    round(extract(epoch from min(e) - min(ws)) * 1000) as first_ended,
    round(extract(epoch from max(q) - min(ws)) * 1000) as last_queued,
    round(extract(epoch from max(d) - min(ws)) * 1000) as last_claimed,
    round(extract(epoch from max(e) - min(ws)) * 1000) as last_ended,
    round(extract(epoch from max(we) - max(e)) * 1000) as end_after_last
from t group by id order by id;
