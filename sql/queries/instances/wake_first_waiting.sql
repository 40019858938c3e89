-- A start of workflow $1/$2 could not be carried out: the first instance that waited behind
-- it is evaluated, and starts if its turn has come. Returns the instance woken, if any.
insert into pgdag.instance_event (workflow_instance_id, due_at)
select wi.id, now()
from pgdag.workflow_instance wi
join pgdag.workflow_definition wd on wd.code = wi.workflow_code
join pgdag.project p on p.id = wd.project_id
where p.name = $1 and wd.name = $2 and wi.state = 'waiting' and wi.backfill_id is null
order by wi.id
limit 1
returning workflow_instance_id
