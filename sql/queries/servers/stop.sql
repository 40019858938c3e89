update pgdag.server set stopped_at = now() where id = $1
