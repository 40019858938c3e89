-- The tables every attempt writes check no foreign key. Each check is an index probe and a
-- row lock per inserted row: a 2,000-task start spent half its creation (16 of 32 ms before
-- its first attempt could be claimed) checking every task row against its instance and its
-- task's version, and each queued attempt and log chunk was checked against its task row
-- (bench/README.md, "Foreign keys on the hot path"). Only pgdag's own statements write
-- these rows, from the ids they were just given; what the cascades did is now written out
-- where instances and task rows are deleted (`cluster/prune_instances.sql`,
-- `definitions/delete_instances.sql`, `definitions/delete_project_instances.sql`,
-- `mapped/forget_items.sql`). A queue row whose task row is gone would be taken and
-- dropped by the next claim (`queue/claim.sql` joins the task row). The instance's own keys
-- (its workflow version, its project) stay checked: one row per run.
alter table pgdag.task_instance
    drop constraint task_instance_workflow_instance_id_fkey,
    drop constraint task_instance_task_code_task_version_fkey;
alter table pgdag.task_queue drop constraint task_queue_task_instance_id_fkey;
alter table pgdag.task_log drop constraint task_log_task_instance_id_fkey;
