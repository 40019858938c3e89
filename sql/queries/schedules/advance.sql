update pgdag.schedule set last_fire_at = coalesce($2, last_fire_at), next_fire_at = $3, updated_at = now()
where id = $1
