-- Runs started by runs (issue 20, point 4): a workflow's `triggers:` as a reverse index.
-- One row per (other workflow, end state) that starts a run of `workflow_code`. Rewritten
-- with the current definition (apply, online/offline, switch to an old version); gone with
-- it (delete). The other workflow is kept by name: it may be applied later, or deleted and
-- applied again. Whether the downstream workflow is online is read at fire time.
create table pgdag.workflow_trigger (
    upstream_project   text not null,
    upstream_workflow  text not null,
    state              text not null check (state in ('succeeded', 'failed', 'stopped')),
    workflow_code      bigint not null references pgdag.workflow_definition(code) on delete cascade,
    primary key (upstream_project, upstream_workflow, state, workflow_code)
);
-- Rewriting one workflow's rows, and the cascade from its definition.
create index workflow_trigger_downstream on pgdag.workflow_trigger (workflow_code);
