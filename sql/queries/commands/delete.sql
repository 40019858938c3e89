delete from pgdag.command where id = $1
