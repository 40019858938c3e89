-- When run $1 should be final: its schedule time $2 (or, without one, now by the
-- scheduler's clock $4) plus finish_within ($3 ms).
update pgdag.workflow_instance
set sla_due_at = coalesce($2::timestamptz, greatest($4::timestamptz, now()))
                 + $3::bigint * interval '1 millisecond'
where id = $1
returning sla_due_at
