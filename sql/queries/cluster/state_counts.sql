-- Instances and task instances per state, for the leader's metrics scrape.
select 'instance' as kind, state, count(*) from pgdag.workflow_instance group by state
union all
select 'task', state, count(*) from pgdag.task_instance group by state
order by 1, 2
