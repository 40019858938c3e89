-- The alert groups of these names that exist.
select name, channels, secrets, updated_at
from pgdag.alert_group
where name = any($1::text[])
order by name
