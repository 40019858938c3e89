//! Webhooks that start a workflow (`POST /hooks/{token}`). Only a token's SHA-256 is stored,
//! as for API tokens; a revoked hook stays for the audit trail and answers as an unknown
//! one. Each hook has a token bucket, kept in its row so every API server shares it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{Conn, query};
use super::{Now, Result};

/// How many starts a hook may make at once, and how fast its bucket refills.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub burst: f64,
    pub per_second: f64,
}

/// Ten starts at once, then one every six seconds (ten a minute).
pub const DEFAULT_RATE: RateLimit = RateLimit {
    burst: 10.0,
    per_second: 1.0 / 6.0,
};

#[derive(Debug, Clone, Serialize)]
pub struct Hook {
    pub id: i64,
    pub project: String,
    pub workflow: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn hook(r: &tokio_postgres::Row) -> Hook {
    Hook {
        id: r.get("id"),
        project: r.get("project"),
        workflow: r.get("workflow"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        revoked_at: r.get("revoked_at"),
    }
}

/// A new hook for the workflow: its id and its token (shown once; only its hash is kept).
pub async fn create(
    client: &impl Conn,
    project_id: i64,
    workflow: &str,
    created_by: &str,
    now: Now,
) -> Result<(i64, String)> {
    let token = format!("pgdag_hook_{}", super::users::random_secret());
    let row = client
        .fetch_one(
            query!("hooks/insert"),
            &[
                &project_id,
                &workflow,
                &super::users::token_hash(&token),
                &DEFAULT_RATE.burst,
                &created_by,
                &now,
            ],
        )
        .await?;
    Ok((row.get("id"), token))
}

/// The project's hooks (of one workflow when named), newest first.
pub async fn list(client: &impl Conn, project: &str, workflow: Option<&str>) -> Result<Vec<Hook>> {
    Ok(client
        .fetch(query!("hooks/list"), &[&project, &workflow])
        .await?
        .iter()
        .map(hook)
        .collect())
}

pub async fn get(client: &impl Conn, id: i64) -> Result<Option<Hook>> {
    Ok(client
        .fetch_opt(query!("hooks/get"), &[&id])
        .await?
        .as_ref()
        .map(hook))
}

/// Revokes the hook; false when it was already revoked.
pub async fn revoke(client: &impl Conn, id: i64, now: Now) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("hooks/revoke"), &[&id, &now])
        .await?
        .is_some())
}

/// The live hook of `token` after taking one start from its bucket.
pub struct Taken {
    pub id: i64,
    pub project: String,
    pub workflow: String,
    /// False: the bucket was empty, nothing was taken.
    pub allowed: bool,
    /// Seconds until the next start may be taken (when not allowed).
    pub retry_after: f64,
}

/// Takes one start for `token`: `None` for an unknown or revoked token.
pub async fn take(
    client: &impl Conn,
    token: &str,
    rate: RateLimit,
    now: Now,
) -> Result<Option<Taken>> {
    let row = client
        .fetch_opt(
            query!("hooks/take"),
            &[
                &super::users::token_hash(token),
                &rate.per_second,
                &rate.burst,
                &now,
            ],
        )
        .await?;
    Ok(row.map(|r| {
        let tokens: f64 = r.get("tokens");
        Taken {
            id: r.get("id"),
            project: r.get("project"),
            workflow: r.get("workflow"),
            allowed: r.get("taken"),
            retry_after: ((1.0 - tokens) / rate.per_second).max(0.0),
        }
    }))
}
