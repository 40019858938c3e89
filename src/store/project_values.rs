//! A project's variables (`${var.NAME}`) and secrets (`${secret.NAME}`). A secret's value is
//! held here only encrypted (see `crate::secret`) or as the name of a worker's environment
//! variable; nothing in this module returns it to the API: only [`secrets_for_run`], which
//! the worker that runs a task calls, reads the ciphertext.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Result;
use super::db::{Conn, query};

/// A secret to store; `value_secret` is already encrypted.
pub struct NewSecret<'a> {
    pub project: &'a str,
    pub name: &'a str,
    pub value_secret: Option<Vec<u8>>,
    pub value_env: Option<&'a str>,
}

/// Variables and secrets applied with other documents (see `definitions::apply_documents`).
#[derive(Default)]
pub struct ProjectValues<'a> {
    pub variables: &'a [crate::spec::VariablesSpec],
    pub secrets: &'a [NewSecret<'a>],
}

/// Replaces the project's variables with `values`.
pub async fn set_variables(
    client: &impl Conn,
    project: &str,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    let project_id = super::definitions::upsert_project(client, project).await?;
    let vals = serde_json::to_value(values).unwrap_or_default();
    client
        .exec(
            query!("project_values/set_variables"),
            &[&project_id, &vals],
        )
        .await?;
    Ok(())
}

/// The project's variables and when they were last set; `None` when never set.
pub async fn get_variables(
    client: &impl Conn,
    project: &str,
) -> Result<Option<(BTreeMap<String, String>, DateTime<Utc>)>> {
    let row = client
        .fetch_opt(query!("project_values/get_variables"), &[&project])
        .await?;
    Ok(row.map(|r| {
        let vals: serde_json::Value = r.get("vals");
        (
            crate::params::json_to_params(&vals),
            r.get::<_, DateTime<Utc>>("updated_at"),
        )
    }))
}

/// Creates or replaces the secret; true when it was created.
pub async fn upsert_secret(client: &impl Conn, secret: &NewSecret<'_>) -> Result<bool> {
    let project_id = super::definitions::upsert_project(client, secret.project).await?;
    Ok(client
        .fetch_one(
            query!("project_values/upsert_secret"),
            &[
                &project_id,
                &secret.name,
                &secret.value_secret,
                &secret.value_env,
            ],
        )
        .await?
        .get(0))
}

/// What the API shows of a secret: its name and where its value comes from, never the value.
#[derive(Debug, Clone, Serialize)]
pub struct SecretSummary {
    pub name: String,
    /// The worker's environment variable that holds the value, when it is not stored.
    pub value_env: Option<String>,
    /// The value is stored (encrypted).
    pub stored: bool,
    pub updated_at: DateTime<Utc>,
}

pub async fn list_secrets(client: &impl Conn, project: &str) -> Result<Vec<SecretSummary>> {
    Ok(client
        .fetch(query!("project_values/list_secrets"), &[&project])
        .await?
        .iter()
        .map(|r| SecretSummary {
            name: r.get("name"),
            value_env: r.get("value_env"),
            stored: r.get("stored"),
            updated_at: r.get("updated_at"),
        })
        .collect())
}

/// Deletes the secret; false when it did not exist.
pub async fn delete_secret(client: &impl Conn, project: &str, name: &str) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("project_values/delete_secret"), &[&project, &name])
        .await?
        .is_some())
}

/// What a worker needs to open one secret.
pub struct SecretRecord {
    pub name: String,
    pub value_secret: Option<Vec<u8>>,
    pub value_env: Option<String>,
}

/// The named secrets of the project that exist (a worker opens them for one task).
pub async fn secrets_for_run(
    client: &impl Conn,
    project: &str,
    names: &[String],
) -> Result<Vec<SecretRecord>> {
    Ok(client
        .fetch(
            query!("project_values/secrets_for_run"),
            &[&project, &names],
        )
        .await?
        .iter()
        .map(|r| SecretRecord {
            name: r.get("name"),
            value_secret: r.get("value_secret"),
            value_env: r.get("value_env"),
        })
        .collect())
}
