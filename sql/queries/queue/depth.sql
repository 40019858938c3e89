select worker_group, count(*) from pgdag.task_queue group by worker_group
