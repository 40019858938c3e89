select id, out_params from pgdag.task_instance where id = any($1::bigint[])
