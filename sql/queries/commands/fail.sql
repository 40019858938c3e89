update pgdag.command set state = 'failed', error = $2, processed_at = now()
where id = $1 and state = 'pending'
