//! Changes that are audited, each with its audit row in one transaction: what the CLI, the
//! web UI and REST share, so that every door writes the same row (`actor`, `action`,
//! `project`, `target`, `detail`). A refused or failed change writes nothing.

use std::time::Duration;

use deadpool_postgres::Object;
use serde_json::json;

use super::Result;
use super::audit::record;
use super::members::Access;
use super::users::{self, NewToken};

/// `pgdag user add`, the Users page: the new user's id.
pub async fn user_add(
    client: &mut Object,
    actor: &str,
    name: &str,
    password: Option<&str>,
    admin: bool,
) -> Result<i64> {
    let tx = client.transaction().await?;
    let id = users::add(&tx, name, password, admin).await?;
    record(
        &tx,
        actor,
        "user.add",
        None,
        Some(name),
        json!({"admin": admin, "password": password.is_some()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// `pgdag user passwd`, the Users page: `None` when there is no such user, else how many
/// tokens were revoked. The password itself is never recorded.
pub async fn user_passwd(
    client: &mut Object,
    actor: &str,
    name: &str,
    password: &str,
    keep_tokens: bool,
) -> Result<Option<i64>> {
    let tx = client.transaction().await?;
    let revoked = users::set_password(&tx, name, password, keep_tokens).await?;
    if let Some(revoked) = revoked {
        record(
            &tx,
            actor,
            "user.passwd",
            None,
            Some(name),
            json!({"keep_tokens": keep_tokens, "tokens_revoked": revoked}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(revoked)
}

/// The Users page's delete: false when there is no such user.
pub async fn user_delete(client: &mut Object, actor: &str, name: &str) -> Result<bool> {
    let tx = client.transaction().await?;
    let deleted = users::delete(&tx, name).await?;
    if deleted {
        record(&tx, actor, "user.delete", None, Some(name), json!({})).await?;
        tx.commit().await?;
    }
    Ok(deleted)
}

/// A membership given or changed (REST `PUT .../members/U`, the Users page).
pub async fn member_set(
    client: &mut Object,
    actor: &str,
    project: &str,
    user: &str,
    access: Access,
) -> Result<()> {
    let tx = client.transaction().await?;
    super::members::set(&tx, project, user, access).await?;
    record(
        &tx,
        actor,
        "member.set",
        Some(project),
        Some(user),
        json!({"access": access}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A membership taken away: false when there was none.
pub async fn member_remove(
    client: &mut Object,
    actor: &str,
    project: &str,
    user: &str,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let removed = super::members::remove(&tx, project, user).await?;
    if removed {
        record(
            &tx,
            actor,
            "member.remove",
            Some(project),
            Some(user),
            json!({}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(removed)
}

/// A token created for `user` (the secret is never recorded).
pub async fn token_create(
    client: &mut Object,
    actor: &str,
    user: &str,
    name: Option<&str>,
    expires_in: Option<Duration>,
) -> Result<NewToken> {
    let tx = client.transaction().await?;
    let new = users::create_token(&tx, user, name, expires_in).await?;
    record(
        &tx,
        actor,
        "token.create",
        None,
        Some(user),
        json!({"token_id": new.id, "name": name, "expires_at": new.expires_at}),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// A token revoked: its user and name, or `None` when there is no such token.
pub async fn token_revoke(
    client: &mut Object,
    actor: &str,
    id: i64,
) -> Result<Option<(String, Option<String>)>> {
    let tx = client.transaction().await?;
    let revoked = users::delete_token(&tx, id).await?;
    if let Some((user, name)) = &revoked {
        record(
            &tx,
            actor,
            "token.revoke",
            None,
            Some(user),
            json!({"token_id": id, "name": name}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(revoked)
}

/// A datasource stored through REST: true when it is new. Its password is never recorded.
pub async fn datasource_upsert(
    client: &mut Object,
    actor: &str,
    ds: &super::datasources::NewDatasource<'_>,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let created = super::datasources::upsert(&tx, ds).await?;
    record(
        &tx,
        actor,
        "datasource.apply",
        Some(ds.project),
        Some(ds.name),
        json!({"created": created}),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// A datasource deleted: false when there was none.
pub async fn datasource_delete(
    client: &mut Object,
    actor: &str,
    project: &str,
    name: &str,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let deleted = super::datasources::delete(&tx, project, name).await?;
    if deleted {
        record(
            &tx,
            actor,
            "datasource.delete",
            Some(project),
            Some(name),
            json!({}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(deleted)
}

/// An alert group stored through REST: true when it is new. Its secrets are never recorded.
pub async fn alert_group_upsert(
    client: &mut Object,
    actor: &str,
    group: &crate::store::alerts::SealedGroup,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let created =
        super::alerts::upsert_group(&tx, &group.name, &group.channels, &group.secrets).await?;
    record(
        &tx,
        actor,
        "alert_group.apply",
        None,
        Some(&group.name),
        json!({"created": created, "channels": group.channels.as_array().map_or(0, Vec::len)}),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// A task group's size set through REST.
pub async fn task_group_set(client: &mut Object, actor: &str, name: &str, size: i32) -> Result<()> {
    let tx = client.transaction().await?;
    super::task_groups::upsert(&tx, name, size).await?;
    record(
        &tx,
        actor,
        "task_group.apply",
        None,
        Some(name),
        json!({"size": size}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A tenant stored (REST, the Tenants page), audited in the same transaction: whether it existed.
pub async fn tenant_upsert(
    client: &mut Object,
    actor: &str,
    tenant: &crate::spec::TenantSpec,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let existed = super::tenants::get(&tx, &tenant.name).await?.is_some();
    super::tenants::upsert(&tx, tenant).await?;
    tenant_applied(&tx, actor, tenant).await?;
    tx.commit().await?;
    Ok(existed)
}

/// The audit row of a tenant stored (through REST, the Tenants page or `apply`).
pub async fn tenant_applied(
    tx: &impl super::db::Conn,
    actor: &str,
    tenant: &crate::spec::TenantSpec,
) -> Result<()> {
    record(
        tx,
        actor,
        "tenant.apply",
        None,
        Some(&tenant.name),
        json!({"os_user": tenant.os_user, "projects": tenant.projects, "default_for": tenant.default_for}),
    )
    .await
}

/// A tenant deleted: false when there was none.
pub async fn tenant_delete(client: &mut Object, actor: &str, name: &str) -> Result<bool> {
    let tx = client.transaction().await?;
    let deleted = super::tenants::delete(&tx, name).await?;
    if deleted {
        record(&tx, actor, "tenant.delete", None, Some(name), json!({})).await?;
        tx.commit().await?;
    }
    Ok(deleted)
}

/// An API-added schedule created (REST, the Schedules page): its id.
pub async fn schedule_add(
    client: &mut Object,
    actor: &str,
    workflow: &super::definitions::CurrentWorkflow,
    project: &str,
    name: &str,
    schedule: &super::schedules::YamlSchedule,
    now: super::Now,
) -> Result<i64> {
    let tx = client.transaction().await?;
    let id = super::schedules::insert_api(&tx, workflow.project_id, workflow.code, schedule, now)
        .await?;
    record(
        &tx,
        actor,
        "schedule.add",
        Some(project),
        Some(name),
        json!({"schedule_id": id, "cron": schedule.cron, "timezone": schedule.timezone}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// An API-added schedule turned on (`on`), off (`off`) or deleted (`delete`): false when
/// there is no such schedule (or, for `delete`, it comes from YAML).
pub async fn schedule_change(
    client: &mut Object,
    actor: &str,
    id: i64,
    change: ScheduleChange,
) -> Result<bool> {
    let tx = client.transaction().await?;
    // Read before a delete takes the row away.
    let project = super::members::project_of(&tx, super::members::Owned::Schedule(id)).await?;
    let done = match change {
        ScheduleChange::On => super::schedules::set_enabled_by_id(&tx, id, true).await?,
        ScheduleChange::Off => super::schedules::set_enabled_by_id(&tx, id, false).await?,
        ScheduleChange::Delete => super::schedules::delete_api(&tx, id).await?,
    };
    if done {
        let action = match change {
            ScheduleChange::On => "schedule.on",
            ScheduleChange::Off => "schedule.off",
            ScheduleChange::Delete => "schedule.delete",
        };
        let target = format!("schedule {id}");
        record(
            &tx,
            actor,
            action,
            project.as_deref(),
            Some(&target),
            json!({"schedule_id": id}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(done)
}

/// What [`schedule_change`] does.
#[derive(Debug, Clone, Copy)]
pub enum ScheduleChange {
    On,
    Off,
    Delete,
}

/// A project's variables replaced (REST `PUT .../variables`, the Variables page), audited
/// as the `kind: variables` document is: names only.
pub async fn variables_set(
    client: &mut Object,
    actor: &str,
    project: &str,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let tx = client.transaction().await?;
    super::project_values::set_variables(&tx, project, values).await?;
    record(
        &tx,
        actor,
        "variables.apply",
        Some(project),
        None,
        json!({ "names": values.keys().collect::<Vec<_>>() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A secret set or replaced (REST `PUT .../secrets/N`, the Variables page): true when it is
/// new. Its value is never recorded.
pub async fn secret_set(
    client: &mut Object,
    actor: &str,
    secret: &super::project_values::NewSecret<'_>,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let created = super::project_values::upsert_secret(&tx, secret).await?;
    record(
        &tx,
        actor,
        "secret.apply",
        Some(secret.project),
        Some(secret.name),
        json!({ "value_env": secret.value_env }),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// A secret deleted (REST, the Variables page): false when it did not exist.
pub async fn secret_delete(
    client: &mut Object,
    actor: &str,
    project: &str,
    name: &str,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let deleted = super::project_values::delete_secret(&tx, project, name).await?;
    if deleted {
        record(
            &tx,
            actor,
            "secret.delete",
            Some(project),
            Some(name),
            json!({}),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(deleted)
}
