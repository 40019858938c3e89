select state from pgdag.task_instance where id = $1
