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
}

impl Tenant {
    fn from_row(row: &tokio_postgres::Row) -> Tenant {
        Tenant {
            name: row.get(0),
            os_user: row.get(1),
            projects: row.get(2),
        }
    }

    /// Whether workflows of `project` may run as this tenant.
    pub fn allows(&self, project: &str) -> bool {
        self.projects.iter().any(|p| p == project)
    }
}

pub async fn upsert(
    client: &impl Conn,
    name: &str,
    os_user: &str,
    projects: &[String],
) -> Result<()> {
    client
        .exec(query!("tenants/upsert"), &[&name, &os_user, &projects])
        .await?;
    Ok(())
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
