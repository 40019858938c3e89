-- `--with-history`: a deleted workflow's finished instances (their task instances, logs and
-- queue rows cascade), their events, failed start commands and backfills.
with instances as (
    delete from pgdag.workflow_instance where workflow_code = $1 returning id
), events as (
    delete from pgdag.instance_event where workflow_instance_id in (select id from instances)
), commands as (
    delete from pgdag.command where state = 'failed' and project = $2 and workflow = $3
), backfills as (
    delete from pgdag.backfill where workflow_code = $1
)
select count(*) from instances
