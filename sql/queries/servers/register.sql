insert into pgdag.server (name, roles, host, pid, worker_groups, version, max_tasks)
values ($1, $2, $3, $4, $5, $6, $7)
returning id
