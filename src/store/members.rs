//! Project membership: who may read or write which project. Admins need no row.

use serde::Serialize;

use super::db::{Conn, query};
use super::{Result, StoreError};

/// What a member may do in a project. `Write` includes reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
    pub fn parse(text: &str) -> Option<Access> {
        match text {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        }
    }
}

/// `None` when the project does not exist; `Some(None)` when it exists and the user is
/// not a member.
pub async fn access(
    client: &impl Conn,
    project: &str,
    user_id: i64,
) -> Result<Option<Option<Access>>> {
    let row = client
        .fetch_opt(query!("members/access"), &[&project, &user_id])
        .await?;
    Ok(row.map(|r| {
        r.get::<_, Option<String>>("access")
            .as_deref()
            .and_then(Access::parse)
    }))
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub project: String,
    pub user: String,
    pub access: String,
}

/// Every membership, or those of one project.
pub async fn list(client: &impl Conn, project: Option<&str>) -> Result<Vec<Member>> {
    let rows = client.fetch(query!("members/list"), &[&project]).await?;
    Ok(rows
        .iter()
        .map(|r| Member {
            project: r.get("project"),
            user: r.get("user_name"),
            access: r.get("access"),
        })
        .collect())
}

pub async fn set(client: &impl Conn, project: &str, user: &str, access: Access) -> Result<()> {
    let row = client
        .fetch_opt(query!("members/set"), &[&project, &user, &access.as_str()])
        .await?;
    match row {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!(
            "project {project} or user {user} does not exist"
        ))),
    }
}

pub async fn remove(client: &impl Conn, project: &str, user: &str) -> Result<bool> {
    Ok(client
        .exec(query!("members/remove"), &[&project, &user])
        .await?
        > 0)
}

/// A thing that belongs to a project, for permission checks.
#[derive(Debug, Clone, Copy)]
pub enum Owned {
    Instance(i64),
    TaskInstance(i64),
    Schedule(i64),
    Backfill(i64),
}

/// The project that owns `thing`, or `None` when it does not exist.
pub async fn project_of(client: &impl Conn, thing: Owned) -> Result<Option<String>> {
    let (kind, id) = match thing {
        Owned::Instance(id) => ("instance", id),
        Owned::TaskInstance(id) => ("task_instance", id),
        Owned::Schedule(id) => ("schedule", id),
        Owned::Backfill(id) => ("backfill", id),
    };
    Ok(client
        .fetch_opt(query!("members/project_of"), &[&kind, &id])
        .await?
        .map(|r| r.get(0)))
}
