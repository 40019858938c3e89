select id from pgdag.project where name = $1
