insert into pgdag.workflow_instance
    (id, project_id, workflow_code, workflow_version, state, command_type, params, schedule_time,
     priority, failure_strategy, host, started_at, ended_at, backfill_id, start_nodes,
     parent_instance_id, parent_task_instance_id)
values ($1, $2, $3, $4, $11, $5, $6, $7, $8, $9, $10,
        case when $11 = 'running' then clock_timestamp() end,
        case when $11 = 'stopped' then clock_timestamp() end, $12, $13, $14, $15)
