select dead_at is null and stopped_at is null from pgdag.server where id = $1
