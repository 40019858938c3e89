select g.name, g.size,
       (select count(*) from pgdag.task_instance t
        where t.task_group = g.name and t.state in ('queued', 'dispatched', 'running', 'need_failover')) as busy,
       (select count(*) from pgdag.task_instance t where t.task_group = g.name and t.state = 'waiting') as waiting
from pgdag.task_group g
order by g.name
