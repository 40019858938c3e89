-- The group's size and its slots in use, with the group row locked for this transaction so
-- that two masters cannot hand out the same free slot.
select g.size,
       (select count(*) from pgdag.task_instance t
        where t.task_group = g.name and t.state in ('queued', 'dispatched', 'running', 'need_failover')) as busy
from pgdag.task_group g
where g.name = $1
for update of g
