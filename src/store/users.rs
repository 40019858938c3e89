//! Users (argon2 password hashes) and API tokens (stored as SHA-256, shown once).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use super::db::{Conn, query};
use super::{DbFailure, Result, StoreError};

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub is_admin: bool,
}

pub fn hash_password(password: &str) -> Result<String> {
    // 16 random bytes from a v4 UUID (the OS random source).
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| StoreError::Invalid(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("cannot hash password: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashing and checking passwords costs tens of milliseconds of CPU by design. It runs on
/// tokio's blocking threads, a few at a time, never on the async threads that the
/// heartbeat, the listener and the master share: a flood of logins waits for a permit
/// instead of delaying them.
fn password_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new((cpus / 2).max(1))
    })
}

async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _permit = password_permits()
        .acquire()
        .await
        .map_err(|e| StoreError::Invalid(format!("password checks closed: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Invalid(format!("a password check failed: {e}")))
}

/// [`hash_password`] on a blocking thread.
pub async fn hash_password_blocking(password: &str) -> Result<String> {
    let password = password.to_string();
    off_thread(move || hash_password(&password)).await?
}

/// [`verify_password`] on a blocking thread.
pub async fn verify_password_blocking(password: &str, hash: &str) -> Result<bool> {
    let (password, hash) = (password.to_string(), hash.to_string());
    off_thread(move || verify_password(&password, &hash)).await
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random secret: 32 bytes from two v4 UUIDs' randomness, hex-encoded.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

pub async fn add(
    client: &impl Conn,
    name: &str,
    password: Option<&str>,
    is_admin: bool,
) -> Result<i64> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid("user name must not be empty".into()));
    }
    let hash = match password {
        Some(p) => Some(hash_password_blocking(p).await?),
        None => None,
    };
    match client
        .fetch_one(query!("users/insert"), &[&name, &hash, &is_admin])
        .await
    {
        Ok(row) => Ok(row.get(0)),
        Err(e) if e.failure() == Some(DbFailure::UniqueViolation) => {
            Err(StoreError::Conflict(format!("user {name} already exists")))
        }
        Err(e) => Err(e),
    }
}

pub async fn count(client: &impl Conn) -> Result<i64> {
    Ok(client.fetch_one(query!("users/count"), &[]).await?.get(0))
}

pub async fn find(client: &impl Conn, name: &str) -> Result<Option<(User, Option<String>)>> {
    let row = client.fetch_opt(query!("users/find"), &[&name]).await?;
    Ok(row.map(|r| {
        (
            User {
                id: r.get("id"),
                name: r.get("name"),
                is_admin: r.get("is_admin"),
            },
            r.get("password_hash"),
        )
    }))
}

/// A new API token: its id, the secret (shown once; only its hash is stored) and when it
/// expires.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: i64,
    pub token: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Create a token for the user, with an optional name (unique per user) and lifetime.
pub async fn create_token(
    client: &impl Conn,
    user_name: &str,
    name: Option<&str>,
    expires_in: Option<std::time::Duration>,
) -> Result<NewToken> {
    let (user, _) = find(client, user_name)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {user_name} does not exist")))?;
    if let Some(problem) = name.and_then(crate::spec::name_problem) {
        return Err(StoreError::Invalid(format!("token name: {problem}")));
    }
    let token = format!("pgdag_{}", random_secret());
    let secs = expires_in.map(|d| d.as_secs_f64());
    let row = match client
        .fetch_one(
            query!("users/insert_token"),
            &[&user.id, &token_hash(&token), &name, &secs],
        )
        .await
    {
        Ok(row) => row,
        Err(e) if e.failure() == Some(DbFailure::UniqueViolation) => {
            return Err(StoreError::Conflict(format!(
                "user {user_name} already has a token named {}",
                name.unwrap_or_default()
            )));
        }
        Err(e) => return Err(e),
    };
    Ok(NewToken {
        id: row.get("id"),
        token,
        expires_at: row.get("expires_at"),
    })
}

/// Who a bearer token speaks for.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub user: User,
    pub token_id: i64,
    pub token_name: Option<String>,
}

/// The user of a live token: `None` for an unknown, revoked or expired one.
pub async fn verify_token(client: &impl Conn, token: &str) -> Result<Option<TokenUser>> {
    let row = client
        .fetch_opt(query!("users/verify_token"), &[&token_hash(token)])
        .await?;
    Ok(row.map(|r| TokenUser {
        user: User {
            id: r.get("id"),
            name: r.get("name"),
            is_admin: r.get("is_admin"),
        },
        token_id: r.get("token_id"),
        token_name: r.get("token_name"),
    }))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UserSummary {
    pub id: i64,
    pub name: String,
    pub is_admin: bool,
    pub has_password: bool,
    pub tokens: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list(client: &impl Conn) -> Result<Vec<UserSummary>> {
    let rows = client.fetch(query!("users/list"), &[]).await?;
    Ok(rows
        .iter()
        .map(|r| UserSummary {
            id: r.get("id"),
            name: r.get("name"),
            is_admin: r.get("is_admin"),
            has_password: r.get("has_password"),
            tokens: r.get("tokens"),
            created_at: r.get("created_at"),
        })
        .collect())
}

/// Set a user's password, ending their sessions and (unless `keep_tokens`) their API
/// tokens; `None` when there is no such user, else how many tokens were revoked.
pub async fn set_password(
    client: &impl Conn,
    name: &str,
    password: &str,
    keep_tokens: bool,
) -> Result<Option<i64>> {
    let hash = hash_password_blocking(password).await?;
    let row = client
        .fetch_opt(query!("users/set_password"), &[&name, &hash, &keep_tokens])
        .await?;
    Ok(row.map(|r| r.get("tokens_revoked")))
}

/// Delete a user with its tokens, sessions and memberships; false when there is none.
pub async fn delete(client: &impl Conn, name: &str) -> Result<bool> {
    Ok(client.exec(query!("users/delete"), &[&name]).await? > 0)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenSummary {
    pub id: i64,
    pub name: Option<String>,
    pub user: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expired: bool,
}

/// Every token, or one user's, newest first.
pub async fn list_tokens(client: &impl Conn, user: Option<&str>) -> Result<Vec<TokenSummary>> {
    let rows = client.fetch(query!("users/list_tokens"), &[&user]).await?;
    Ok(rows
        .iter()
        .map(|r| TokenSummary {
            id: r.get("id"),
            name: r.get("name"),
            user: r.get("user_name"),
            created_at: r.get("created_at"),
            last_used_at: r.get("last_used_at"),
            expires_at: r.get("expires_at"),
            expired: r.get("expired"),
        })
        .collect())
}

/// Revoke a token; its user's name and its own name, or `None` when there is no such token.
pub async fn delete_token(client: &impl Conn, id: i64) -> Result<Option<(String, Option<String>)>> {
    let row = client
        .fetch_opt(query!("users/delete_token"), &[&id])
        .await?;
    Ok(row.map(|r| (r.get("user_name"), r.get("name"))))
}
