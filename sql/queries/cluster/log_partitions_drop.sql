-- Drops the task log partitions that end before the shortest retention (the global one or
-- a workflow's own) and hold no row of an instance retention keeps; the names dropped.
-- lock_timeout: dropping a partition takes an exclusive lock on the task log for the
-- moment of the drop; waiting for it behind a long reader would stall every log writer
-- queued behind the drop, so the drop gives up and is tried again next round.
select pgdag.task_log_drop_partitions(
    greatest($2::timestamptz, now())
        - least(make_interval(days => $1),
                coalesce((select min(retention) from pgdag.workflow_definition), make_interval(days => $1))),
    greatest($2::timestamptz, now()),
    $1)
