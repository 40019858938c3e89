-- plan: per call (optional filters: the plan fits the values at hand)
-- Alerts, newest first, each with its deliveries. $6: the viewer's user id (null: an
-- admin, who sees every alert).
select a.id, a.kind, a.state, a.alert_group, a.workflow_instance_id, a.task_instance_id,
       a.payload, a.error, a.created_at, a.routed_at, a.updated_at,
       coalesce((
           select jsonb_agg(jsonb_build_object(
                      'id', d.id, 'group', d.alert_group, 'channel', d.channel_index,
                      'type', d.channel_type, 'spec', d.channel, 'state', d.state,
                      'attempts', d.attempts, 'last_answer', d.last_answer,
                      'next_attempt_at', d.next_attempt_at, 'claimed_by', d.claimed_by,
                      'claimed_at', d.claimed_at, 'sent_at', d.sent_at)
                  order by d.alert_group, d.channel_index)
           from pgdag.alert_delivery d
           where d.alert_id = a.id), '[]'::jsonb) as deliveries
from pgdag.alert a
where ($1::text is null or a.state = $1)
  and ($2::text is null or a.kind = $2)
  and ($3::bigint is null or a.workflow_instance_id = $3)
  and ($4::bigint is null or a.id < $4)
  and ($6::bigint is null
       or exists (select 1 from pgdag.workflow_instance wi
                  join pgdag.project_member m on m.project_id = wi.project_id and m.user_id = $6
                  where wi.id = a.workflow_instance_id))
order by a.id desc
limit $5
