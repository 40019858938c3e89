//! `/api/v1/tokens`: API tokens, as `pgdag token create|list|revoke` and the Tokens page.
//! An admin manages everyone's; another user only their own.

use serde::Deserialize;

use super::query::Query;
use super::{Answer, Ctx, ok, parse_id};
use crate::api::auth::forbidden;
use crate::api::error::ApiError;
use crate::store::{audit, users};
use warp::http::StatusCode;

/// The user whose tokens a call is about: `wanted`, which a non-admin may only name
/// themselves with (their own, when unnamed).
fn whose(ctx: &Ctx<'_>, wanted: Option<&str>) -> Result<Option<String>, ApiError> {
    if ctx.who.user.is_admin {
        return Ok(wanted.map(str::to_string));
    }
    match wanted {
        Some(u) if u != ctx.who.user.name => Err(forbidden(format!(
            "user {} may manage only their own tokens",
            ctx.who.user.name
        ))),
        _ => Ok(Some(ctx.who.user.name.clone())),
    }
}

pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    let query = Query::of(ctx.request);
    let user = whose(&ctx, query.get("user"))?;
    let tokens = users::list_tokens(&ctx.client, user.as_deref()).await?;
    ok(serde_json::json!({ "tokens": tokens }))
}

pub(super) async fn create(ctx: Ctx<'_>) -> Answer {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewToken {
        user: Option<String>,
        name: Option<String>,
        /// `30d`, `12h`; absent: never expires.
        expires_in: Option<String>,
    }
    let body: NewToken = serde_json::from_slice(&ctx.request.body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let user = whose(&ctx, body.user.as_deref())?.unwrap_or_else(|| ctx.who.user.name.clone());
    let expires_in = body
        .expires_in
        .as_deref()
        .map(crate::api::ui::parse_lifetime)
        .transpose()
        .map_err(ApiError::unprocessable)?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    let new = users::create_token(&tx, &user, body.name.as_deref(), expires_in).await?;
    audit::record(
        &tx,
        &ctx.who.actor(),
        "token.create",
        None,
        Some(&user),
        serde_json::json!({"token_id": new.id, "name": body.name, "expires_at": new.expires_at}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        serde_json::json!({
            "id": new.id,
            "user": user,
            "name": body.name,
            "token": new.token,
            "expires_at": new.expires_at,
        }),
    ))
}

pub(super) async fn revoke(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    if !ctx.who.user.is_admin {
        let own = users::list_tokens(&ctx.client, Some(&ctx.who.user.name)).await?;
        if !own.iter().any(|t| t.id == id) {
            // Another user's token is as invisible as one that does not exist.
            return Err(ApiError::not_found(format!("token {id} does not exist")));
        }
    }
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    match users::delete_token(&tx, id).await? {
        Some((user, name)) => {
            audit::record(
                &tx,
                &ctx.who.actor(),
                "token.revoke",
                None,
                Some(&user),
                serde_json::json!({"token_id": id, "name": name}),
            )
            .await?;
            tx.commit().await?;
            ok(serde_json::json!({"id": id, "user": user, "name": name, "revoked": true}))
        }
        None => Err(ApiError::not_found(format!("token {id} does not exist"))),
    }
}
