delete from pgdag.alert where state <> 'pending' and created_at < now() - make_interval(days => $1)
