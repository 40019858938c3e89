-- (not final yet — counting start commands no master has taken —, failed, stopped)
select (select count(*) from pgdag.workflow_instance
        where backfill_id = $1 and state in ('waiting', 'running', 'pausing', 'stopping', 'paused'))
     + (select count(*) from pgdag.command
        where state = 'pending' and (options ->> 'backfill_id')::bigint = $1) as open,
       (select count(*) from pgdag.workflow_instance where backfill_id = $1 and state = 'failed') as failed,
       (select count(*) from pgdag.workflow_instance where backfill_id = $1 and state = 'stopped') as stopped
