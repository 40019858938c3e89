-- Lock the group's row for this transaction, so that two masters cannot hand out the same
-- free slot. The slots in use are counted by a separate statement (busy.sql): a statement
-- that waited for the lock would count with the snapshot it had before waiting.
select size from pgdag.task_group where name = $1 for update
