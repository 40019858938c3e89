-- A project's default tenant (issue 14): process tasks of the project's workflows that name
-- no `tenant:` run as it. Written by the tenant's document (`default_for`, a subset of its
-- `projects`); the primary key keeps it to one tenant a project, and it goes with its tenant.
create table pgdag.project_tenant (
    project  text primary key,
    tenant   text not null references pgdag.tenant(name) on delete cascade
);
create index project_tenant_tenant on pgdag.project_tenant (tenant);
