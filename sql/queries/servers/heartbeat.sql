update pgdag.server set heartbeat_at = now(), running_tasks = $2 where id = $1
