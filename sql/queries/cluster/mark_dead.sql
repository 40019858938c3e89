update pgdag.server set dead_at = coalesce(dead_at, now()) where id = $1
