delete from pgdag.schedule where id = $1 and source = 'api' returning id
