-- Does the connection answer? (health checks, the leader's trust window)
select 1
