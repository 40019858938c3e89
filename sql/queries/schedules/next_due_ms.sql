select (extract(epoch from (min(next_fire_at) - greatest($1::timestamptz, now()))) * 1000)::float8 from pgdag.schedule where enabled
