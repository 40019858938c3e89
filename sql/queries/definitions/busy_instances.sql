-- Instances of a workflow that have not ended (or are still start commands): a workflow
-- is not deleted under them. $1: workflow code, $2/$3: project and workflow names.
select wi.id from pgdag.workflow_instance wi
where wi.workflow_code = $1
  and wi.state in ('submitted', 'waiting', 'running', 'pausing', 'stopping')
union all
select c.workflow_instance_id from pgdag.command c
where c.state = 'pending' and c.command_type in ('start', 'schedule')
  and c.project = $2 and c.workflow = $3
order by 1
limit 20
