//! Browser sessions of the web admin and the failed-login record that throttles guessing.
//!
//! A session cookie carries a random secret; only its SHA-256 is stored (as for API tokens),
//! so a copy of the database does not let anyone in. Each session has its own CSRF token.

use super::Result;
use super::db::{Conn, query};
use super::users::{User, random_secret, token_hash};

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub csrf_token: String,
    pub user: User,
}

/// A new session for `user_id` that expires after `ttl` without requests; returns the
/// cookie secret and the session (with its CSRF token).
pub async fn create(
    client: &impl Conn,
    user: &User,
    ttl: std::time::Duration,
) -> Result<(String, Session)> {
    let secret = random_secret();
    let csrf = random_secret();
    let row = client
        .fetch_one(
            query!("sessions/create"),
            &[&token_hash(&secret), &user.id, &csrf, &ttl.as_secs_f64()],
        )
        .await?;
    Ok((
        secret,
        Session {
            id: row.get(0),
            csrf_token: csrf,
            user: user.clone(),
        },
    ))
}

/// The session of a cookie secret, if it is live; its expiry moves to `ttl` from now, but
/// never past `max_age` after its login.
pub async fn touch(
    client: &impl Conn,
    secret: &str,
    ttl: std::time::Duration,
    max_age: std::time::Duration,
) -> Result<Option<Session>> {
    let row = client
        .fetch_opt(
            query!("sessions/touch"),
            &[
                &token_hash(secret),
                &ttl.as_secs_f64(),
                &max_age.as_secs_f64(),
            ],
        )
        .await?;
    Ok(row.map(|r| Session {
        id: r.get("id"),
        csrf_token: r.get("csrf_token"),
        user: User {
            id: r.get("user_id"),
            name: r.get("name"),
            is_admin: r.get("is_admin"),
        },
    }))
}

pub async fn delete(client: &impl Conn, secret: &str) -> Result<()> {
    client
        .exec(query!("sessions/delete"), &[&token_hash(secret)])
        .await?;
    Ok(())
}

/// How a throttle key backs off: `free` attempts in a row may fail without waiting; after
/// that each attempt waits `first`, doubling with each further failure, at most `longest`;
/// a key quiet for `window` starts again from zero.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub free: i32,
    pub first: std::time::Duration,
    pub longest: std::time::Duration,
    pub window: std::time::Duration,
}

/// Take one attempt for `key`: `None` when it may go ahead (it counts as a failure until
/// [`throttle_clear`] or [`throttle_forgive`]), else how long until it may.
pub async fn throttle_take(
    client: &impl Conn,
    key: &str,
    backoff: Backoff,
) -> Result<Option<std::time::Duration>> {
    let taken = client
        .fetch_opt(
            query!("sessions/throttle_take"),
            &[
                &key,
                &backoff.free,
                &backoff.first.as_secs_f64(),
                &backoff.longest.as_secs_f64(),
                &backoff.window.as_secs_f64(),
            ],
        )
        .await?;
    if taken.is_some() {
        return Ok(None);
    }
    let row = client
        .fetch_one(
            query!("sessions/throttle_wait"),
            &[
                &key,
                &backoff.free,
                &backoff.first.as_secs_f64(),
                &backoff.longest.as_secs_f64(),
            ],
        )
        .await?;
    let wait: f64 = row.get("wait");
    Ok(Some(std::time::Duration::from_secs_f64(wait.max(0.0))))
}

/// A key's failures are forgotten (a successful login for a name); quiet keys are swept.
pub async fn throttle_clear(
    client: &impl Conn,
    key: &str,
    window: std::time::Duration,
) -> Result<()> {
    client
        .exec(
            query!("sessions/throttle_clear"),
            &[&key, &window.as_secs_f64()],
        )
        .await?;
    Ok(())
}

/// The attempt last taken for `key` was not a failure (a successful login from an address).
pub async fn throttle_forgive(client: &impl Conn, key: &str) -> Result<()> {
    client
        .exec(query!("sessions/throttle_forgive"), &[&key])
        .await?;
    Ok(())
}
