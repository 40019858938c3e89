-- A test message sent by `pgdag alert test`, recorded as already delivered.
insert into pgdag.alert (kind, alert_group, payload, state, routed_at)
values ('test', $1, $2, $3, now())
returning id
