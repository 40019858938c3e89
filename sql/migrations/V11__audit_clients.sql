-- The audit trail and Postgres roles for SQL clients (issue 15, points 4 and 5).

-- ---------------------------------------------------------------------------------------
-- Audit: append-only. Every row is written in the transaction of the action it records.
-- `actor` is a user (`alice`, `admin (token ci)`), `cli:<os user>`, `sql:<database role>`,
-- `schedule` or `pgdag` (the scheduler itself: a stop reaching a child instance).
-- ---------------------------------------------------------------------------------------
create table pgdag.audit (
    id       bigserial primary key,
    at       timestamptz not null default now(),
    actor    text not null,
    action   text not null,
    project  text,
    target   text,
    detail   jsonb not null default '{}'
);
create index audit_at on pgdag.audit (at);
create index audit_actor on pgdag.audit (actor, id);
create index audit_project on pgdag.audit (project, id);

-- No update ever; a delete only by the pruner, which says so in its own transaction
-- (`pgdag.audit_prune` = 'on'). The table's owner can still drop the trigger: the guard is
-- against mistakes and SQL clients, not against the operator.
create function pgdag.audit_guard() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' and current_setting('pgdag.audit_prune', true) = 'on' then
        return old;
    end if;
    raise exception 'pgdag.audit is append-only (% refused)', lower(tg_op)
        using errcode = 'insufficient_privilege';
end $$;
create trigger audit_append_only before update or delete on pgdag.audit
    for each row execute function pgdag.audit_guard();
create trigger audit_no_truncate before truncate on pgdag.audit
    for each statement execute function pgdag.audit_guard();

-- Who created versions and instances.
alter table pgdag.workflow_definition_log
    add column created_by text not null default 'sql:' || current_user;
alter table pgdag.workflow_instance add column created_by text;

-- ---------------------------------------------------------------------------------------
-- SQL clients: a role that is a member of `pgdag_client` (and neither a superuser nor the
-- owner of schema pgdag) sees and commands only the projects mapped to it here.
-- ---------------------------------------------------------------------------------------
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'pgdag_client') then
        create role pgdag_client nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another database of this cluster created it at the same moment
end $$;

create table pgdag.client_project (
    role_name  text not null,
    project    text not null,
    granted_at timestamptz not null default now(),
    primary key (role_name, project)
);

-- True when `role` is a client role (a member of pgdag_client that is not a superuser and
-- does not own schema pgdag).
create function pgdag.is_client(role text) returns boolean
language sql stable security definer set search_path = pg_catalog as $$
    select exists (select 1 from pg_roles where rolname = 'pgdag_client')
       and pg_has_role(role, 'pgdag_client', 'member')
       and not (select rolsuper from pg_roles where rolname = role)
       and role <> (select nspowner::regrole::text from pg_namespace where nspname = 'pgdag')
$$;

-- The projects `role` may see, or null when it is no client (sees everything it may read).
create function pgdag.client_projects(role text) returns text[]
language sql stable security definer set search_path = pg_catalog as $$
    select case when pgdag.is_client(role) then
        coalesce((select array_agg(project) from pgdag.client_project where role_name = role),
                 '{}')
    end
$$;

-- The project of an instance id: the instance's, or its pending start command's.
create function pgdag.instance_project(p_id bigint) returns text
language sql stable security definer set search_path = pg_catalog as $$
    select coalesce(
        (select p.name from pgdag.workflow_instance wi
         join pgdag.project p on p.id = wi.project_id where wi.id = p_id),
        (select c.project from pgdag.command c
         where c.workflow_instance_id = p_id and c.project is not null order by c.id limit 1))
$$;

-- Refuses a client's command for a project not mapped to it, before anything is written.
create function pgdag.client_project_check(role text, project text) returns void
language plpgsql stable security definer set search_path = pg_catalog as $$
declare
    allowed text[] := pgdag.client_projects(role);
begin
    if allowed is not null and (project is null or not project = any(allowed)) then
        raise exception 'role % may not act on project %', role, coalesce(project, '(unknown)')
            using errcode = 'insufficient_privilege',
                  hint = 'pgdag client grant ' || role || ' PROJECT gives it a project';
    end if;
end $$;

-- ---------------------------------------------------------------------------------------
-- Commands carry their actor; a client's is always `sql:<role>` and its project checked.
-- ---------------------------------------------------------------------------------------
alter table pgdag.command add column created_by text not null default 'sql:' || current_user;

create function pgdag.command_check() returns trigger language plpgsql as $$
begin
    if pgdag.is_client(current_user) then
        new.created_by := 'sql:' || current_user;
        perform pgdag.client_project_check(current_user,
            case when new.command_type in ('start', 'schedule', 'backfill') then new.project
                 else pgdag.instance_project(new.workflow_instance_id) end);
    end if;
    return new;
end $$;
create trigger command_check before insert on pgdag.command
    for each row execute function pgdag.command_check();

create function pgdag.command_audit() returns trigger
language plpgsql security definer set search_path = pg_catalog as $$
begin
    insert into pgdag.audit (actor, action, project, target, detail)
    values (new.created_by, 'command.' || new.command_type,
            coalesce(new.project, pgdag.instance_project(new.workflow_instance_id)),
            case when new.workflow is not null then new.workflow || ' ' end
                || 'instance ' || new.workflow_instance_id,
            jsonb_strip_nulls(jsonb_build_object(
                'command_id', new.id, 'instance_id', new.workflow_instance_id,
                'params', nullif(new.params, '{}'::jsonb),
                'options', nullif(new.options, '{}'::jsonb))));
    return null;
end $$;
create trigger command_audit after insert on pgdag.command
    for each row execute function pgdag.command_audit();

-- An instance records who asked for it: its command's actor, else its parent's.
create function pgdag.instance_created_by() returns trigger language plpgsql as $$
begin
    if new.created_by is null then
        new.created_by := coalesce(
            (select c.created_by from pgdag.command c
             where c.workflow_instance_id = new.id order by c.id limit 1),
            (select p.created_by from pgdag.workflow_instance p
             where p.id = new.parent_instance_id),
            'pgdag');
    end if;
    return new;
end $$;
create trigger instance_created_by before insert on pgdag.workflow_instance
    for each row execute function pgdag.instance_created_by();

-- start_workflow checks the client's project before it says whether the workflow exists,
-- and reads definitions with the owner's rights (a client may not read them).
create function pgdag.workflow_exists(p_project text, p_workflow text) returns boolean
language sql stable security definer set search_path = pg_catalog as $$
    select exists (select 1 from pgdag.workflow_definition wd
                   join pgdag.project p on p.id = wd.project_id
                   where p.name = p_project and wd.name = p_workflow)
$$;

create or replace function pgdag.start_workflow(p_project text, p_workflow text, p_params jsonb default '{}')
returns bigint language plpgsql as $$
declare
    instance_id bigint;
begin
    perform pgdag.client_project_check(current_user, p_project);
    if not pgdag.workflow_exists(p_project, p_workflow) then
        raise exception 'workflow %/% does not exist', p_project, p_workflow
            using errcode = 'no_data_found';
    end if;
    -- The id first: RETURNING would need read rights on pgdag.command, which clients lack.
    instance_id := nextval('pgdag.workflow_instance_id_seq');
    insert into pgdag.command (command_type, project, workflow, params, workflow_instance_id)
    values ('start', p_project, p_workflow, coalesce(p_params, '{}'), instance_id);
    return instance_id;
end $$;

-- The read views show a client only its projects (security barrier: the filter runs before
-- any function of the caller's query sees a row). Same columns as before.
create or replace view pgdag.workflow_instance_v with (security_barrier) as
select * from (
select wi.id,
       p.name as project,
       wd.name as workflow,
       wi.workflow_version as version,
       wi.state,
       wi.command_type,
       wi.schedule_time,
       wi.started_at,
       wi.ended_at,
       (array['highest', 'high', 'medium', 'low', 'lowest'])[wi.priority + 1] as priority,
       wi.parent_instance_id,
       wi.backfill_id
from pgdag.workflow_instance wi
join pgdag.project p on p.id = wi.project_id
join pgdag.workflow_definition_log wd on wd.code = wi.workflow_code and wd.version = wi.workflow_version
union all
select c.workflow_instance_id,
       c.project,
       c.workflow,
       wd.version,
       'submitted',
       c.command_type,
       (c.options ->> 'schedule_time')::timestamptz,
       null::timestamptz,
       null::timestamptz,
       coalesce(wd.spec ->> 'priority', 'medium'),
       null::bigint,
       null::bigint
from pgdag.command c
left join pgdag.project p on p.name = c.project
left join pgdag.workflow_definition wd on wd.project_id = p.id and wd.name = c.workflow
where c.state = 'pending' and c.command_type in ('start', 'schedule')
) v
where (select pgdag.client_projects(current_user::text)) is null
   or array[v.project] <@ (select pgdag.client_projects(current_user::text));

create or replace view pgdag.task_instance_v with (security_barrier) as
select ti.id,
       ti.workflow_instance_id,
       ti.name,
       ti.task_type as type,
       ti.state,
       ti.attempt,
       ti.host,
       ti.started_at,
       ti.ended_at,
       ti.exit_code
from pgdag.task_instance ti
where (select pgdag.client_projects(current_user::text)) is null
   or exists (select 1 from pgdag.workflow_instance wi
              join pgdag.project p on p.id = wi.project_id
              where wi.id = ti.workflow_instance_id
                and array[p.name] <@ (select pgdag.client_projects(current_user::text)));

-- What pgdag_client may do, and nothing else.
grant usage on schema pgdag to pgdag_client;
grant select on pgdag.workflow_instance_v, pgdag.task_instance_v to pgdag_client;
grant insert on pgdag.command to pgdag_client;
grant usage on sequence pgdag.command_id_seq, pgdag.workflow_instance_id_seq to pgdag_client;
grant execute on function pgdag.start_workflow(text, text, jsonb) to pgdag_client;
grant execute on function pgdag.is_client(text), pgdag.client_projects(text),
    pgdag.instance_project(bigint), pgdag.client_project_check(text, text),
    pgdag.workflow_exists(text, text) to public;

-- `pgdag client grant ROLE PROJECT` / `revoke`: run by the operator (who may grant
-- pgdag_client), recorded in the audit trail by `actor`.
create function pgdag.client_grant(p_role text, p_project text, p_actor text) returns void
language plpgsql as $$
begin
    if not exists (select 1 from pg_roles where rolname = p_role) then
        raise exception 'role % does not exist (create it first: create role % login)', p_role, p_role
            using errcode = 'undefined_object';
    end if;
    if not exists (select 1 from pgdag.project where name = p_project) then
        raise exception 'project % does not exist', p_project using errcode = 'no_data_found';
    end if;
    execute format('grant pgdag_client to %I', p_role);
    insert into pgdag.client_project (role_name, project) values (p_role, p_project)
    on conflict do nothing;
    insert into pgdag.audit (actor, action, project, target)
    values (p_actor, 'client.grant', p_project, p_role);
end $$;

create function pgdag.client_revoke(p_role text, p_project text, p_actor text) returns boolean
language plpgsql as $$
begin
    delete from pgdag.client_project where role_name = p_role and project = p_project;
    if not found then
        return false;
    end if;
    -- The last project gone, the role is no client any more.
    if not exists (select 1 from pgdag.client_project where role_name = p_role)
       and exists (select 1 from pg_roles where rolname = p_role) then
        execute format('revoke pgdag_client from %I', p_role);
    end if;
    insert into pgdag.audit (actor, action, project, target)
    values (p_actor, 'client.revoke', p_project, p_role);
    return true;
end $$;
revoke execute on function pgdag.client_grant(text, text, text),
    pgdag.client_revoke(text, text, text) from public;
