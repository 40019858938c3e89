-- A worker's flush of outcomes writes one evaluation event per instance, carrying the ids
-- of the attempts that ended in it, instead of one event row per attempt: a flush of 256
-- outcomes of one instance inserted 256 rows into three indexes, which the evaluation
-- deleted again at once (bench/README.md, "One event per flush").
alter table pgdag.instance_event add column ended_tasks bigint[];
update pgdag.instance_event set ended_tasks = array[task_instance_id] where task_instance_id is not null;
alter table pgdag.instance_event drop column task_instance_id;
