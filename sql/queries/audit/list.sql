-- plan: per call (optional filters: the plan fits the values at hand)
-- The audit trail, newest first. $1 actor (substring), $2 project, $3 action (prefix:
-- `command` matches `command.start`), $4 from, $5 to, $6 before (an id), $7 limit.
select id, at, actor, action, project, target, detail
from pgdag.audit
where ($1::text is null or strpos(lower(actor), lower($1)) > 0)
  and ($2::text is null or project = $2)
  and ($3::text is null or action = $3 or action like $3 || '.%')
  and ($4::timestamptz is null or at >= $4)
  and ($5::timestamptz is null or at < $5)
  and ($6::bigint is null or id < $6)
order by id desc
limit $7
