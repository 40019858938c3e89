-- plan: per call (limit $n: a plan made without its value may read a whole table)
select id, command_type, project, workflow, params, workflow_instance_id, options,
    extract(epoch from clock_timestamp() - created_at)::float8 as waited_s
from pgdag.command
where state = 'pending'
order by id
limit $1
for update skip locked
