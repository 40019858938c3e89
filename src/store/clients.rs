//! SQL clients: database roles that may start and read only the projects mapped to them.
//!
//! The rules live in the schema (V11): membership in `pgdag_client`, the
//! `pgdag.client_project` mapping, a check on every command row and a filter in the read
//! views. This module only grants and revokes.

use super::Result;
use super::db::{Conn, query};

/// Make `role` (an existing database role) a client of `project`, granting it
/// `pgdag_client`.
pub async fn grant(client: &impl Conn, role: &str, project: &str, actor: &str) -> Result<()> {
    client
        .exec(query!("clients/grant"), &[&role, &project, &actor])
        .await?;
    Ok(())
}

/// Take `project` from `role`; with its last project it loses `pgdag_client`. False when it
/// had no such grant.
pub async fn revoke(client: &impl Conn, role: &str, project: &str, actor: &str) -> Result<bool> {
    Ok(client
        .fetch_one(query!("clients/revoke"), &[&role, &project, &actor])
        .await?
        .get(0))
}
