-- The partition key (created_at) is in the primary key, so a chunk sent again (a flush
-- retried after its commit was not seen) is caught by the not exists, not the conflict.
insert into pgdag.task_log (task_instance_id, seq, attempt, text)
select c.id, c.seq, t.attempt, c.text
from unnest($1::bigint[], $2::uuid[], $3::int[], $4::text[]) as c(id, token, seq, text)
join pgdag.task_instance t on t.id = c.id and t.claim_token = c.token
where not exists (select 1 from pgdag.task_log l where l.task_instance_id = c.id and l.seq = c.seq)
on conflict do nothing
returning task_instance_id
