select count(*) from pgdag.task_instance
where task_group = $1 and state in ('queued', 'dispatched', 'running', 'need_failover')
