update pgdag.backfill set state = $2, ended_at = case when $2 <> 'running' then now() end
where id = $1 and state = 'running'
