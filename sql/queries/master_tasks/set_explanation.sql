-- A dependent task's latest explanation (the log repeats it only when it changes).
update pgdag.task_instance set result = jsonb_build_object('explanation', $2::text) where id = $1
