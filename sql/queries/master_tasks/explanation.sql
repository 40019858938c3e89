select result ->> 'explanation' from pgdag.task_instance where id = $1
