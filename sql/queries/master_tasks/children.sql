-- Child instances of an instance's sub_process tasks that are in one of these states.
select c.id
from pgdag.workflow_instance c
where c.parent_instance_id = $1 and c.state = any($2::text[])
order by c.id
