select id from pgdag.project where name = $1 and deleted_at is null
