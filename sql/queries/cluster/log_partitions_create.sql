-- The weekly task log partitions from this week to $2 weeks ahead (those missing).
select pgdag.task_log_create_partitions(greatest($1::timestamptz, now()), $2)
