select b.id, p.name as project, wd.name as workflow, b.mode, b.parallelism, b.run_order,
       b.stop_on_failure, b.state, b.dates, b.created_at, b.ended_at,
       coalesce((select jsonb_agg(jsonb_build_object('id', wi.id, 'state', wi.state,
                                                     'schedule_time', wi.schedule_time) order by wi.id)
                 from pgdag.workflow_instance wi where wi.backfill_id = b.id), '[]') as instances
from pgdag.backfill b
join pgdag.project p on p.id = b.project_id
join pgdag.workflow_definition wd on wd.code = b.workflow_code
where b.id = $1
