select (extract(epoch from (min(next_fire_at) - now())) * 1000)::float8 from pgdag.schedule where enabled
