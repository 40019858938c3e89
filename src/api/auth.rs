//! Who is asking, and may they: API tokens and browser sessions, CSRF, project access.
//!
//! A request is authenticated by `Authorization: Bearer <token>` (API clients) or by the
//! `pgdag_session` cookie (the web admin). A cookie is sent by the browser on its own, so
//! every state-changing request that authenticates by cookie must also carry the session's
//! CSRF token (form field `csrf` or header `X-CSRF-Token`); a bearer token is never sent on
//! its own, so it needs none. Admins may do anything; other users only what their project
//! membership (`read` or `write`) allows. Owns no state: sessions are rows in Postgres.

use crate::store::db::Conn;
use warp::http::StatusCode;

use super::error::ApiError;
use super::{Request, Settings};
use crate::config::CookieSecure;
use crate::store::members::{self, Access, Owned};
use crate::store::users::User;
use crate::store::{Store, sessions, users};

pub const SESSION_COOKIE: &str = "pgdag_session";
/// A random value set on the login page and repeated in its form (double submit), so that
/// another site cannot log a browser in under an account of its choosing.
pub const LOGIN_COOKIE: &str = "pgdag_login";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Logins back off per user name: five failures in a row are free, then each attempt
/// waits 1 s, 2 s, 4 s... at most a minute. Never a hard lock: whoever knows the password
/// gets in after the wait, so failures cannot lock anyone (the admin included) out, and a
/// guesser gets one try a minute.
pub const NAME_BACKOFF: sessions::Backoff = sessions::Backoff {
    free: 5,
    first: std::time::Duration::from_secs(1),
    longest: std::time::Duration::from_secs(60),
    window: THROTTLE_WINDOW,
};
/// Per client address (as seen through the trusted proxies): twenty free, then the same.
pub const ADDR_BACKOFF: sessions::Backoff = sessions::Backoff {
    free: 20,
    ..NAME_BACKOFF
};
/// A throttle key quiet this long starts again from zero.
pub const THROTTLE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The browser session, when the request came with the session cookie.
    pub session: Option<sessions::Session>,
    /// The API token, when the request came with one: its id and name.
    pub token: Option<(i64, Option<String>)>,
}

impl Principal {
    /// Who did it, for the audit trail: the user's name, and for a token also the token's
    /// (`admin (token ci)`, or its id when it has no name).
    pub fn actor(&self) -> String {
        match &self.token {
            None => self.user.name.clone(),
            Some((_, Some(name))) => format!("{} (token {name})", self.user.name),
            Some((id, None)) => format!("{} (token #{id})", self.user.name),
        }
    }

    /// The user id that limits listings, or `None` for an admin (who sees everything).
    pub fn viewer(&self) -> Option<i64> {
        (!self.user.is_admin).then_some(self.user.id)
    }

    pub fn csrf_token(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.csrf_token.as_str())
            .unwrap_or("")
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.is_admin {
            Ok(())
        } else {
            Err(forbidden(format!(
                "user {} is not an admin: only admins may do this",
                self.user.name
            )))
        }
    }

    /// True when this caller may change `project` (for pages that show changes only to
    /// those who may make them); errors only when the database does.
    pub async fn can_write(&self, client: &impl Conn, project: &str) -> Result<bool, ApiError> {
        match self.require_project(client, project, Access::Write).await {
            Ok(()) => Ok(true),
            Err(e) if e.status == StatusCode::FORBIDDEN || e.status == StatusCode::NOT_FOUND => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// May this caller read (or write) `project`? 404 when it does not exist or the caller
    /// may not read it, 403 when the caller may read it but needs write.
    pub async fn require_project(
        &self,
        client: &impl Conn,
        project: &str,
        needed: Access,
    ) -> Result<(), ApiError> {
        let access = members::access(client, project, self.user.id).await?;
        let missing = || ApiError::not_found(format!("project {project} does not exist"));
        let Some(access) = access else {
            return Err(missing());
        };
        if self.user.is_admin || access.is_some_and(|a| a >= needed) {
            return Ok(());
        }
        // A project the caller may not even read answers as one that does not exist, so
        // that 403 against 404 does not tell which project names are taken.
        if access.is_none() {
            return Err(missing());
        }
        Err(forbidden(match access {
            None => format!(
                "user {} is not a member of project {project}",
                self.user.name
            ),
            Some(a) => format!(
                "user {} has {} access to project {project}, {} is needed",
                self.user.name,
                a.as_str(),
                needed.as_str()
            ),
        }))
    }

    /// As `require_project`, for the project that owns an instance, task instance,
    /// schedule or backfill; returns that project. 404 when the thing does not exist.
    pub async fn require_owner(
        &self,
        client: &impl Conn,
        thing: Owned,
        needed: Access,
    ) -> Result<String, ApiError> {
        let missing = || {
            ApiError::not_found(match thing {
                Owned::Instance(id) => format!("instance {id} does not exist"),
                Owned::TaskInstance(id) => format!("task instance {id} does not exist"),
                Owned::Schedule(id) => format!("schedule {id} does not exist"),
                Owned::Backfill(id) => format!("backfill {id} does not exist"),
            })
        };
        let project = members::project_of(client, thing)
            .await?
            .ok_or_else(missing)?;
        // Not readable: the same 404 as a thing that does not exist (not naming its project).
        match self.require_project(client, &project, needed).await {
            Err(e) if e.status == StatusCode::NOT_FOUND => Err(missing()),
            Err(e) => Err(e),
            Ok(()) => Ok(project),
        }
    }

    /// A state-changing request that authenticated by cookie must carry the session's
    /// CSRF token, in the `X-CSRF-Token` header or as `form_token`.
    pub fn check_csrf(&self, request: &Request, form_token: Option<&str>) -> Result<(), ApiError> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let given = request.header(CSRF_HEADER).or(form_token).unwrap_or("");
        if !given.is_empty() && constant_time_eq(given.as_bytes(), session.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(forbidden(
                "the CSRF token is missing or wrong: reload the page and try again",
            ))
        }
    }
}

pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// The caller of a request, if it proves one: a bearer token first, else the session
/// cookie. A wrong bearer token is an error (401); a stale cookie is simply no session.
pub async fn principal(
    store: &Store,
    request: &Request,
    settings: &Settings,
) -> Result<Option<Principal>, ApiError> {
    if let Some(header) = request.header("authorization") {
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be 'Bearer <token>'")
        })?;
        let client = store.client().await?;
        let found = users::verify_token(&client, token.trim())
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid, expired or revoked API token"))?;
        return Ok(Some(Principal {
            user: found.user,
            session: None,
            token: Some((found.token_id, found.token_name)),
        }));
    }
    let Some(secret) = request.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let client = store.client().await?;
    Ok(sessions::touch(
        &client,
        secret,
        settings.session_ttl,
        settings.session_max_age,
    )
    .await?
    .map(|session| Principal {
        user: session.user.clone(),
        session: Some(session),
        token: None,
    }))
}

/// Why a login was refused.
#[derive(Debug)]
pub enum LoginRefused {
    /// Wrong name or password (the two are not told apart).
    BadCredentials,
    /// Too many failures lately; try again after this long.
    Throttled(std::time::Duration),
}

/// Check a name and password, with throttling; on success a new session and its cookie
/// secret. The attempt is taken for the client address, then for the name, in one
/// transaction (always in that order, so two logins cannot deadlock); the password is
/// checked after it commits, on a blocking thread.
pub async fn login(
    store: &Store,
    name: &str,
    password: &str,
    remote: &str,
    session_ttl: std::time::Duration,
) -> Result<Result<(String, sessions::Session), LoginRefused>, ApiError> {
    let addr_key = format!("addr:{remote}");
    let name_key = format!("name:{name}");
    let mut client = store.client().await?;
    let found = {
        let tx = client.transaction().await?;
        if let Some(wait) = sessions::throttle_take(&tx, &addr_key, ADDR_BACKOFF).await? {
            return Ok(Err(LoginRefused::Throttled(wait)));
        }
        if let Some(wait) = sessions::throttle_take(&tx, &name_key, NAME_BACKOFF).await? {
            // Dropping the transaction rolls the address's attempt back too.
            return Ok(Err(LoginRefused::Throttled(wait)));
        }
        tx.commit().await?;
        users::find(&client, name).await?
    };
    let user = match found {
        Some((user, Some(hash))) if users::verify_password_blocking(password, &hash).await? => user,
        other => {
            if other.is_none() {
                // Spend the time a real check would, so that timing does not tell which
                // names exist.
                let _ = users::verify_password_blocking(password, dummy_hash()).await;
            }
            audit_login(&client, name, "login.failed", remote).await?;
            return Ok(Err(LoginRefused::BadCredentials));
        }
    };
    let tx = client.transaction().await?;
    sessions::throttle_clear(&tx, &name_key, THROTTLE_WINDOW).await?;
    sessions::throttle_forgive(&tx, &addr_key).await?;
    let session = sessions::create(&tx, &user, session_ttl).await?;
    audit_login(&tx, name, "login", remote).await?;
    tx.commit().await?;
    Ok(Ok(session))
}

/// A login or a failed one in the audit trail, under the name given (cut to 100
/// characters: it may be anything a stranger typed).
async fn audit_login(
    client: &impl crate::store::db::Conn,
    name: &str,
    action: &str,
    remote: &str,
) -> Result<(), ApiError> {
    let name: String = name.chars().take(100).collect();
    crate::store::audit::record(
        client,
        &name,
        action,
        None,
        None,
        serde_json::json!({ "remote": remote }),
    )
    .await?;
    Ok(())
}

/// An argon2 hash of a random password, checked against when the user does not exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| users::hash_password(&users::random_secret()).unwrap_or_default())
}

/// The `Set-Cookie` value of a session cookie.
pub fn session_cookie(request: &Request, settings: &Settings, secret: &str) -> String {
    let age = settings.session_ttl.min(settings.session_max_age).as_secs();
    cookie(request, settings, SESSION_COOKIE, secret, Some(age))
}

/// A cookie that expires at once (logout).
pub fn cleared_cookie(request: &Request, settings: &Settings, name: &str) -> String {
    cookie(request, settings, name, "", Some(0))
}

/// `Secure` when `PGDAG_COOKIE_SECURE=always`, or when a trusted proxy says the browser
/// used https (`X-Forwarded-Proto: https`).
pub fn cookie(
    request: &Request,
    settings: &Settings,
    name: &str,
    value: &str,
    max_age: Option<u64>,
) -> String {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if settings.cookie_secure == CookieSecure::Always || request.is_https(&settings.trusted_proxies)
    {
        text.push_str("; Secure");
    }
    text
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn the_dummy_hash_parses_and_matches_nothing_guessable() {
        assert!(argon2::password_hash::PasswordHash::new(dummy_hash()).is_ok());
        assert!(!users::verify_password("", dummy_hash()));
        assert!(!users::verify_password("admin", dummy_hash()));
    }
}
