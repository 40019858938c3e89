//! Tenants: names for the OS users that process tasks run as, each with the projects whose
//! workflows may use it.

use serde::Serialize;

use super::Result;
use super::db::{Conn, query};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub name: String,
    pub os_user: String,
    pub projects: Vec<String>,
    /// The projects whose workflows that name no tenant run as this one.
    pub default_for: Vec<String>,
}

impl Tenant {
    fn from_row(row: &tokio_postgres::Row) -> Tenant {
        Tenant {
            name: row.get(0),
            os_user: row.get(1),
            projects: row.get(2),
            default_for: row.get(3),
        }
    }

    /// Whether workflows of `project` may run as this tenant.
    pub fn allows(&self, project: &str) -> bool {
        self.projects.iter().any(|p| p == project)
    }
}

/// Define or replace a tenant, with the projects it is the default of. Run it in a
/// transaction: a project that already has another default tenant refuses the whole.
pub async fn upsert(client: &impl Conn, tenant: &crate::spec::TenantSpec) -> Result<()> {
    client
        .exec(
            query!("tenants/upsert"),
            &[&tenant.name, &tenant.os_user, &tenant.projects],
        )
        .await?;
    let taken = client
        .fetch(
            query!("tenants/default_taken"),
            &[&tenant.name, &tenant.default_for],
        )
        .await?;
    if let Some(row) = taken.first() {
        let (project, other): (String, String) = (row.get(0), row.get(1));
        return Err(super::StoreError::Conflict(format!(
            "tenant {}: project {project} already has default tenant {other} (remove it from that tenant's `default_for` first)",
            tenant.name
        )));
    }
    client
        .exec(query!("tenants/clear_defaults"), &[&tenant.name])
        .await?;
    client
        .exec(
            query!("tenants/add_defaults"),
            &[&tenant.name, &tenant.default_for],
        )
        .await?;
    Ok(())
}

/// The default tenant of `project` (for its workflows that name none).
pub async fn default_of(client: &impl Conn, project: &str) -> Result<Option<Tenant>> {
    Ok(client
        .fetch_opt(query!("tenants/default_of"), &[&project])
        .await?
        .as_ref()
        .map(Tenant::from_row))
}

pub async fn get(client: &impl Conn, name: &str) -> Result<Option<Tenant>> {
    Ok(client
        .fetch_opt(query!("tenants/get"), &[&name])
        .await?
        .as_ref()
        .map(Tenant::from_row))
}

pub async fn list(client: &impl Conn) -> Result<Vec<Tenant>> {
    Ok(client
        .fetch(query!("tenants/list"), &[])
        .await?
        .iter()
        .map(Tenant::from_row)
        .collect())
}

/// Whether a tenant of that name existed.
pub async fn delete(client: &impl Conn, name: &str) -> Result<bool> {
    Ok(client.exec(query!("tenants/delete"), &[&name]).await? > 0)
}

/// Why workflows of `project` may not name tenant `name` (given what is stored), if they
/// may not: the same words at apply and when a task is queued.
pub fn refusal(tenant: Option<&Tenant>, name: &str, project: &str) -> Option<String> {
    match tenant {
        None => Some(format!(
            "tenant {name} does not exist (define it with a kind: tenant document)"
        )),
        Some(t) if !t.allows(project) => Some(format!(
            "tenant {name} may not be used by project {project} (its `projects` does not list it)"
        )),
        Some(_) => None,
    }
}
