//! `/api/v1/projects` and `/api/v1/projects/{p}/members`.

use serde::Deserialize;

use super::{Answer, Ctx, ok};
use crate::api::error::ApiError;
use crate::store::members::{self, Access};
use crate::store::{audit, definitions};

pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    let projects = definitions::list_projects(&ctx.client, ctx.who.viewer()).await?;
    ok(super::listing::projects(&projects))
}

pub(super) async fn get(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let projects = definitions::list_projects(&ctx.client, None).await?;
    let found = projects
        .into_iter()
        .find(|p| p.name == *project)
        .ok_or_else(|| ApiError::not_found(format!("project {project} does not exist")))?;
    ok(serde_json::to_value(found).unwrap_or_default())
}

pub(super) async fn members(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let members = members::list(&ctx.client, Some(project)).await?;
    ok(serde_json::json!({"members": members}))
}

pub(super) async fn put_member(ctx: Ctx<'_>, project: &str, user: &str) -> Answer {
    ctx.who.require_admin()?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Membership {
        access: String,
    }
    let body: Membership = serde_json::from_slice(&ctx.request.body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let access = Access::parse(&body.access).ok_or_else(|| {
        ApiError::unprocessable(format!("access {:?} is not read or write", body.access))
    })?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    members::set(&tx, project, user, access).await?;
    audit::record(
        &tx,
        &ctx.who.actor(),
        "member.set",
        Some(project),
        Some(user),
        serde_json::json!({"access": access}),
    )
    .await?;
    tx.commit().await?;
    ok(serde_json::json!({"project": project, "user": user, "access": access}))
}

pub(super) async fn delete_member(ctx: Ctx<'_>, project: &str, user: &str) -> Answer {
    ctx.who.require_admin()?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    if members::remove(&tx, project, user).await? {
        audit::record(
            &tx,
            &ctx.who.actor(),
            "member.remove",
            Some(project),
            Some(user),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        ok(serde_json::json!({"project": project, "user": user, "removed": true}))
    } else {
        Err(ApiError::not_found(format!(
            "user {user} is not a member of project {project}"
        )))
    }
}
