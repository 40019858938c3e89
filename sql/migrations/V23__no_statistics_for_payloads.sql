-- No statement filters or joins on these columns, so the planner never reads their
-- statistics; computing them (`ANALYZE`, by autovacuum or by the table keeper) read and
-- detoasted every sampled payload and result: 99 → 56 ms for a task_instance of 13,150
-- rows here (bench/README.md, "Statistics no plan reads").
alter table pgdag.task_instance
    alter column payload set statistics 0,
    alter column out_params set statistics 0,
    alter column result set statistics 0,
    alter column error set statistics 0,
    alter column branch set statistics 0;
alter table pgdag.workflow_instance
    alter column params set statistics 0,
    alter column error set statistics 0;
