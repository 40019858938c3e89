-- A log line written by the master for a task it carries out (it holds the instance lock,
-- so it is the only writer of this task's log at this time).
insert into pgdag.task_log (task_instance_id, seq, attempt, text)
select t.id, coalesce((select max(seq) + 1 from pgdag.task_log where task_instance_id = t.id), 0),
       t.attempt, $2
from pgdag.task_instance t
where t.id = $1
