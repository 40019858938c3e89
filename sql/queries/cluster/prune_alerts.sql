delete from pgdag.alert where state <> 'pending' and created_at < greatest($2::timestamptz, now()) - make_interval(days => $1)
