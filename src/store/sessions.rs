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

/// The session of a cookie secret, if it is live; its expiry moves to `ttl` from now.
pub async fn touch(
    client: &impl Conn,
    secret: &str,
    ttl: std::time::Duration,
) -> Result<Option<Session>> {
    let row = client
        .fetch_opt(
            query!("sessions/touch"),
            &[&token_hash(secret), &ttl.as_secs_f64()],
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

/// Failed logins within `window` for a user name and for a client address, and how long
/// until the oldest of each leaves the window.
#[derive(Debug, Clone, Copy)]
pub struct RecentFailures {
    pub by_name: i64,
    pub by_remote: i64,
    pub name_free_in: std::time::Duration,
    pub remote_free_in: std::time::Duration,
}

pub async fn recent_failures(
    client: &impl Conn,
    name: &str,
    remote: &str,
    window: std::time::Duration,
) -> Result<RecentFailures> {
    let row = client
        .fetch_one(
            query!("sessions/recent_failures"),
            &[&name, &remote, &window.as_secs_f64()],
        )
        .await?;
    let secs = |col: &str| std::time::Duration::from_secs_f64(row.get::<_, f64>(col).max(0.0));
    Ok(RecentFailures {
        by_name: row.get("by_name"),
        by_remote: row.get("by_remote"),
        name_free_in: secs("name_free_in"),
        remote_free_in: secs("remote_free_in"),
    })
}

pub async fn record_failure(client: &impl Conn, name: &str, remote: &str) -> Result<()> {
    client
        .exec(query!("sessions/record_failure"), &[&name, &remote])
        .await?;
    Ok(())
}

pub async fn clear_failures(client: &impl Conn, name: &str) -> Result<()> {
    client
        .exec(query!("sessions/clear_failures"), &[&name])
        .await?;
    Ok(())
}
