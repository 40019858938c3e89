delete from pgdag.tenant where name = $1
