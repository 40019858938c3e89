//! Admin pages: users (add, set a password, delete), project access, and API tokens
//! (created tokens are shown once; only their hashes are stored).

use super::{Ctx, parse_id, redirect, render};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::{self, MemberLine, TokenLine, TokensPage, UserLine, UsersPage};
use crate::store::members::{self, Access};
use crate::store::{StoreError, audited, definitions, users};

/// Shortest password the admin pages accept.
const MIN_PASSWORD: usize = 8;

pub(super) async fn users(
    ctx: &Ctx<'_>,
    message: Option<String>,
    error: Option<String>,
) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let client = ctx.client().await?;
    let list = users::list(&client).await?;
    let members = members::list(&client, None).await?;
    let projects = definitions::list_projects(&client, None).await?;
    let failed = error.is_some();
    let mut reply = render(&UsersPage {
        nav: ctx.nav("users"),
        users: list
            .into_iter()
            .map(|u| UserLine {
                name: u.name,
                is_admin: u.is_admin,
                has_password: u.has_password,
                tokens: u.tokens,
                created_at: pages::time(Some(u.created_at)),
            })
            .collect(),
        members: members
            .into_iter()
            .map(|m| MemberLine {
                project: m.project,
                user: m.user,
                access: m.access,
            })
            .collect(),
        projects: projects.into_iter().map(|p| p.name).collect(),
        message,
        error,
    })?;
    if failed {
        *reply.status_mut() = warp::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(reply)
}

/// A store refusal (a duplicate, an unknown name) shown on the page; anything else fails.
async fn outcome(ctx: &Ctx<'_>, result: Result<String, StoreError>) -> Result<Reply, ApiError> {
    match result {
        Ok(message) => users(ctx, Some(message), None).await,
        Err(StoreError::Conflict(m) | StoreError::Invalid(m) | StoreError::NotFound(m)) => {
            users(ctx, None, Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}

fn password_problem(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD)
        .then(|| format!("a password needs at least {MIN_PASSWORD} characters"))
}

pub(super) async fn add_user(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let form = ctx.request.form();
    let name = form.get("name").map(|n| n.trim()).unwrap_or("").to_string();
    let password = form.get("password").cloned().unwrap_or_default();
    if let Some(problem) = password_problem(&password) {
        return users(ctx, None, Some(problem)).await;
    }
    if let Some(problem) = crate::spec::name_problem(&name) {
        return users(ctx, None, Some(format!("user name: {problem}"))).await;
    }
    let admin = form.contains_key("admin");
    let mut client = ctx.client().await?;
    let result = audited::user_add(&mut client, &ctx.who.actor(), &name, Some(&password), admin)
        .await
        .map(|_| format!("User {name} added."));
    drop(client);
    outcome(ctx, result).await
}

pub(super) async fn set_password(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let form = ctx.request.form();
    let name = form.get("name").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if let Some(problem) = password_problem(&password) {
        return users(ctx, None, Some(problem)).await;
    }
    let keep_tokens = form.contains_key("keep_tokens");
    let mut client = ctx.client().await?;
    let result =
        match audited::user_passwd(&mut client, &ctx.who.actor(), &name, &password, keep_tokens)
            .await
        {
            Ok(Some(revoked)) => Ok(format!(
                "Password of {name} set; their sessions ended{}.",
                if keep_tokens {
                    String::new()
                } else {
                    format!(" and {revoked} API token(s) were revoked")
                }
            )),
            Ok(None) => Err(StoreError::NotFound(format!("user {name} does not exist"))),
            Err(e) => Err(e),
        };
    drop(client);
    outcome(ctx, result).await
}

pub(super) async fn delete_user(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let name = ctx.request.form().get("name").cloned().unwrap_or_default();
    if name == ctx.who.user.name {
        return users(ctx, None, Some("you cannot delete yourself".into())).await;
    }
    let mut client = ctx.client().await?;
    let result = match audited::user_delete(&mut client, &ctx.who.actor(), &name).await {
        Ok(true) => Ok(format!(
            "User {name} deleted, with their tokens and sessions."
        )),
        Ok(false) => Err(StoreError::NotFound(format!("user {name} does not exist"))),
        Err(e) => Err(e),
    };
    drop(client);
    outcome(ctx, result).await
}

pub(super) async fn grant(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let form = ctx.request.form();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (project, user) = (field("project"), field("user"));
    let Some(access) = Access::parse(&field("access")) else {
        return users(ctx, None, Some("access must be read or write".into())).await;
    };
    let mut client = ctx.client().await?;
    let result = audited::member_set(&mut client, &ctx.who.actor(), &project, &user, access)
        .await
        .map(|_| format!("{user} has {} access to {project}.", access.as_str()));
    drop(client);
    outcome(ctx, result).await
}

pub(super) async fn revoke_membership(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let form = ctx.request.form();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (project, user) = (field("project"), field("user"));
    let mut client = ctx.client().await?;
    let result = match audited::member_remove(&mut client, &ctx.who.actor(), &project, &user).await
    {
        Ok(true) => Ok(format!("{user} no longer has access to {project}.")),
        Ok(false) => Err(StoreError::NotFound(format!(
            "{user} is not a member of {project}"
        ))),
        Err(e) => Err(e),
    };
    drop(client);
    outcome(ctx, result).await
}

pub(super) async fn tokens(
    ctx: &Ctx<'_>,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let client = ctx.client().await?;
    let tokens = users::list_tokens(&client, None).await?;
    let names = users::list(&client).await?;
    render(&TokensPage {
        nav: ctx.nav("tokens"),
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                id: t.id,
                name: t.name.unwrap_or_default(),
                user: t.user,
                created_at: pages::time(Some(t.created_at)),
                last_used_at: pages::time(t.last_used_at),
                expires_at: t
                    .expires_at
                    .map_or_else(|| "never".to_string(), |at| pages::time(Some(at))),
                expired: t.expired,
            })
            .collect(),
        users: names.into_iter().map(|u| u.name).collect(),
        created,
        error,
    })
}

pub(super) async fn create_token(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let form = ctx.request.form();
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let user = field("user").unwrap_or_default();
    let name = field("name");
    let expires_in = match field("expires_in").filter(|e| e != "never") {
        None => None,
        Some(text) => match parse_lifetime(&text) {
            Ok(d) => Some(d),
            Err(m) => return tokens(ctx, None, Some(m)).await,
        },
    };
    let mut client = ctx.client().await?;
    let result = audited::token_create(
        &mut client,
        &ctx.who.actor(),
        &user,
        name.as_deref(),
        expires_in,
    )
    .await;
    drop(client);
    match result {
        Ok(new) => tokens(ctx, Some((user, new.token)), None).await,
        Err(StoreError::NotFound(m) | StoreError::Conflict(m) | StoreError::Invalid(m)) => {
            tokens(ctx, None, Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A token's lifetime: a duration like `30d` or `12h`, more than zero.
pub(crate) fn parse_lifetime(text: &str) -> Result<std::time::Duration, String> {
    let d: crate::model::Duration = text.parse().map_err(|e| format!("expires in: {e}"))?;
    if d.millis == 0 {
        return Err("expires in: must be more than 0".into());
    }
    Ok(d.as_std())
}

pub(super) async fn revoke_token(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let id = parse_id(id)?;
    let mut client = ctx.client().await?;
    if audited::token_revoke(&mut client, &ctx.who.actor(), id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("token {id} does not exist")));
    }
    Ok(redirect("/admin/tokens"))
}
