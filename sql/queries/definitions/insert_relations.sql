with rel as (
    select * from unnest($3::bigint[], $4::int[], $5::bigint[], $6::int[], $7::text[], $8::bigint[])
        as r(pre_task_code, pre_task_version, post_task_code, post_task_version, condition, delay_ms)
), log as (
    insert into pgdag.workflow_task_relation_log
        (workflow_code, workflow_version, pre_task_code, pre_task_version, post_task_code,
         post_task_version, condition, delay_ms)
    select $1, $2, pre_task_code, pre_task_version, post_task_code, post_task_version, condition, delay_ms
    from rel
)
insert into pgdag.workflow_task_relation
    (workflow_code, workflow_version, pre_task_code, pre_task_version, post_task_code,
     post_task_version, condition, delay_ms)
select $1, $2, pre_task_code, pre_task_version, post_task_code, post_task_version, condition, delay_ms
from rel
