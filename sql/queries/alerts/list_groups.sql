select name, channels, secrets, updated_at
from pgdag.alert_group
order by name
