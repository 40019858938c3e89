//! `/api/v1/tenants`: the OS users process tasks may run as, and which projects may use
//! each. Admin only: a tenant decides which OS account a project's code runs under.

use serde::Deserialize;
use warp::http::StatusCode;

use super::{Answer, Ctx, ok};
use crate::api::error::ApiError;
use crate::store::{audited, tenants};

pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    ctx.who.require_admin()?;
    let list = tenants::list(&ctx.client).await?;
    ok(serde_json::json!({ "tenants": list }))
}

/// `PUT /api/v1/tenants/{name}` with `{"os_user": "...", "projects": [...]}` (or the
/// `kind: tenant` YAML document): 201 when created, 200 when replaced.
pub(super) async fn put(ctx: Ctx<'_>, name: &str) -> Answer {
    ctx.who.require_admin()?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        name: Option<String>,
        os_user: String,
        #[serde(default)]
        projects: Vec<String>,
        #[serde(default)]
        default_for: Vec<String>,
    }
    let text = std::str::from_utf8(&ctx.request.body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    // One validation for both forms: the JSON body becomes the YAML document (JSON is YAML).
    let body: Body = match serde_json::from_str(text) {
        Ok(body) => body,
        Err(_) => {
            let checked =
                crate::apply::check_documents("request", text).map_err(super::spec_errors)?;
            let [t] = &checked.tenants[..] else {
                return Err(ApiError::unprocessable(
                    "the body must hold exactly one document of kind tenant",
                ));
            };
            Body {
                kind: Some("tenant".into()),
                name: Some(t.name.clone()),
                os_user: t.os_user.clone(),
                projects: t.projects.clone(),
                default_for: t.default_for.clone(),
            }
        }
    };
    if body.kind.as_deref().is_some_and(|k| k != "tenant") {
        return Err(ApiError::unprocessable("kind must be tenant"));
    }
    if body.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::unprocessable(format!(
            "the body names tenant {}, the path {name}",
            body.name.unwrap_or_default()
        )));
    }
    let document = serde_json::json!({
        "kind": "tenant", "name": name, "os_user": body.os_user, "projects": body.projects,
        "default_for": body.default_for,
    });
    let checked = crate::apply::check_documents("request", &document.to_string())
        .map_err(super::spec_errors)?;
    let [t] = &checked.tenants[..] else {
        return Err(ApiError::unprocessable("the body is not a tenant"));
    };
    let mut client = ctx.client;
    let existed = audited::tenant_upsert(&mut client, &ctx.who.actor(), t).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        serde_json::json!({ "tenant": { "name": t.name, "os_user": t.os_user, "projects": t.projects, "default_for": t.default_for } }),
    ))
}

pub(super) async fn delete(ctx: Ctx<'_>, name: &str) -> Answer {
    ctx.who.require_admin()?;
    let mut client = ctx.client;
    if !audited::tenant_delete(&mut client, &ctx.who.actor(), name).await? {
        return Err(ApiError::not_found(format!("tenant {name} does not exist")));
    }
    ok(serde_json::json!({ "deleted": name }))
}
