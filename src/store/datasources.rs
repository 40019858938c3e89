//! Datasources: connection settings for `sql` and `procedure` tasks, per project. A stored
//! password is only ever held encrypted here (see `crate::secret`); nothing in this module
//! returns it to the API.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Result;
use super::db::{Conn, query};

/// A datasource to store; `password_secret` is already encrypted.
pub struct NewDatasource<'a> {
    pub project: &'a str,
    pub name: &'a str,
    pub db_type: &'a str,
    pub url: &'a str,
    pub password_env: Option<&'a str>,
    pub password_secret: Option<Vec<u8>>,
}

/// Creates or replaces the datasource; true when it was created.
pub async fn upsert(client: &impl Conn, ds: &NewDatasource<'_>) -> Result<bool> {
    let project_id = super::definitions::upsert_project(client, ds.project).await?;
    Ok(client
        .fetch_one(
            query!("datasources/upsert"),
            &[
                &project_id,
                &ds.name,
                &ds.db_type,
                &ds.url,
                &ds.password_env,
                &ds.password_secret,
            ],
        )
        .await?
        .get(0))
}

/// What the API shows of a datasource: never the password.
#[derive(Debug, Clone, Serialize)]
pub struct DatasourceSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub db_type: String,
    pub url: String,
    pub password_env: Option<String>,
    pub has_stored_password: bool,
    pub updated_at: DateTime<Utc>,
}

pub async fn list(client: &impl Conn, project: &str) -> Result<Vec<DatasourceSummary>> {
    Ok(client
        .fetch(query!("datasources/list"), &[&project])
        .await?
        .iter()
        .map(|r| DatasourceSummary {
            name: r.get(0),
            db_type: r.get(1),
            url: r.get(2),
            password_env: r.get(3),
            has_stored_password: r.get(4),
            updated_at: r.get(5),
        })
        .collect())
}

/// What a worker needs to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct DatasourceRecord {
    pub db_type: String,
    pub url: String,
    pub password_env: Option<String>,
    pub password_secret: Option<Vec<u8>>,
}

/// Only the type: the URL may hold a password.
impl std::fmt::Debug for DatasourceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasourceRecord")
            .field("db_type", &self.db_type)
            .finish_non_exhaustive()
    }
}

pub async fn get(
    client: &impl Conn,
    project: &str,
    name: &str,
) -> Result<Option<DatasourceRecord>> {
    Ok(client
        .fetch_opt(query!("datasources/get"), &[&project, &name])
        .await?
        .map(|r| DatasourceRecord {
            db_type: r.get(0),
            url: r.get(1),
            password_env: r.get(2),
            password_secret: r.get(3),
        }))
}

/// One stored (encrypted) password, if any datasource has one: a process that runs tasks
/// checks at start-up that its key opens it.
pub async fn any_stored_password(client: &impl Conn) -> Result<Option<Vec<u8>>> {
    Ok(client
        .fetch_opt(query!("datasources/any_stored_password"), &[])
        .await?
        .map(|r| r.get(0)))
}

/// Deletes the datasource; false when there was none.
pub async fn delete(client: &impl Conn, project: &str, name: &str) -> Result<bool> {
    Ok(client
        .exec(query!("datasources/delete"), &[&project, &name])
        .await?
        > 0)
}
