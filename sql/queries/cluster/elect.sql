-- Run by the holder of the leader advisory lock, right after winning it.
update pgdag.leader_term set term = term + 1, server_id = $1, elected_at = now()
where id = 1
returning term
