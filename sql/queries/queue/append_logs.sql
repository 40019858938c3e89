insert into pgdag.task_log (task_instance_id, seq, attempt, text)
select c.id, c.seq, t.attempt, c.text
from unnest($1::bigint[], $2::uuid[], $3::int[], $4::text[]) as c(id, token, seq, text)
join pgdag.task_instance t on t.id = c.id and t.claim_token = c.token
on conflict do nothing
returning task_instance_id
