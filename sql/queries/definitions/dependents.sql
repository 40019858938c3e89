-- Current workflows with a `dependent` task naming workflow $2 of project $1 (as `W` in the
-- same project or `P/W`): `project/workflow task NAME`.
select distinct p.name || '/' || wd.name || ' task ' || (t ->> 'name') as what
from pgdag.workflow_definition wd
join pgdag.project p on p.id = wd.project_id
cross join lateral jsonb_array_elements(wd.spec -> 'tasks') t
cross join lateral jsonb_path_query(t, 'strict $.**.workflow') w
where t ->> 'type' = 'dependent'
  and ((p.name = $1 and w #>> '{}' = $2) or w #>> '{}' = $1 || '/' || $2)
  and not (p.name = $1 and wd.name = $2)
order by 1
