-- How many ancestors an instance has through sub_process links.
with recursive up as (
    select id, parent_instance_id, 0 as depth from pgdag.workflow_instance where id = $1
    union all
    select w.id, w.parent_instance_id, up.depth + 1
    from pgdag.workflow_instance w join up on w.id = up.parent_instance_id
    where up.depth < 1000
)
select max(depth) from up
