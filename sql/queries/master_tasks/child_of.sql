-- The newest child instance a sub_process task started.
select id, state from pgdag.workflow_instance
where parent_task_instance_id = $1
order by id desc
limit 1
