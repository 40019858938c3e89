-- First statement of every leader transaction: blocks a successor's election until this
-- transaction ends, and returns nothing once a successor has taken over.
select term from pgdag.leader_term where id = 1 and term = $1 and server_id = $2 for share
