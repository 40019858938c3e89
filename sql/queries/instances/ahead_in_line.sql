-- Whether a start of workflow $1 submitted before instance $2 is still ahead of it in
-- submission order: a start command not carried out yet (another consumer may hold it), or,
-- when $3, an instance of the workflow that waits for its turn.
select exists (
    select 1
    from pgdag.command c
    join pgdag.project p on p.name = c.project
    join pgdag.workflow_definition wd on wd.project_id = p.id and wd.name = c.workflow
    where wd.code = $1 and c.state = 'pending' and c.command_type in ('start', 'schedule')
      and c.workflow_instance_id < $2
) or ($3 and exists (
    select 1 from pgdag.workflow_instance wi
    where wi.workflow_code = $1 and wi.state = 'waiting' and wi.backfill_id is null
      and wi.id < $2
))
