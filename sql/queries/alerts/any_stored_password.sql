-- One stored SMTP password, if any group has one.
select s
from pgdag.alert_group g, unnest(g.secrets) s
where s is not null
limit 1
