update pgdag.workflow_hook set revoked_at = greatest($2::timestamptz, now())
where id = $1 and revoked_at is null
returning id
