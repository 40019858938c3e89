//! The admin page of tenants: the OS users process tasks run as, the projects that may use
//! each, and the projects each is the default of. Defined and deleted through forms (the
//! same checks as a `kind: tenant` document and `PUT /api/v1/tenants/{name}`).

use askama::Template;

use super::{Ctx, render};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::Nav;
use crate::store::{StoreError, audited, tenants};

#[derive(Template)]
#[template(path = "pages/tenants.html")]
pub struct TenantsPage {
    pub nav: Nav,
    pub tenants: Vec<tenants::Tenant>,
    pub message: Option<String>,
    pub error: Option<String>,
}

pub(super) async fn page(
    ctx: &Ctx<'_>,
    message: Option<String>,
    error: Option<String>,
) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let client = ctx.client().await?;
    let list = tenants::list(&client).await?;
    let failed = error.is_some();
    let mut reply = render(&TenantsPage {
        nav: ctx.nav("tenants"),
        tenants: list,
        message,
        error,
    })?;
    if failed {
        *reply.status_mut() = warp::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(reply)
}

/// `a, b c` → `["a", "b", "c"]`.
fn names(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

pub(super) async fn save(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let form = ctx.request.form();
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    // One validation for every way in: the form becomes the document (JSON is YAML).
    let document = serde_json::json!({
        "kind": "tenant",
        "name": field("name"),
        "os_user": field("os_user"),
        "projects": names(&field("projects")),
        "default_for": names(&field("default_for")),
    });
    let checked = match crate::apply::check_documents("form", &document.to_string()) {
        Ok(checked) => checked,
        Err(errors) => {
            let text = errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return page(ctx, None, Some(text)).await;
        }
    };
    let [tenant] = &checked.tenants[..] else {
        return page(ctx, None, Some("the form is not a tenant".into())).await;
    };
    let mut client = ctx.client().await?;
    let result = audited::tenant_upsert(&mut client, &ctx.who.actor(), tenant).await;
    match result {
        Ok(_) => {}
        Err(StoreError::Conflict(m) | StoreError::Invalid(m)) => {
            drop(client);
            return page(ctx, None, Some(m)).await;
        }
        Err(e) => return Err(e.into()),
    }
    drop(client);
    page(
        ctx,
        Some(format!(
            "Tenant {} saved (OS user {}).",
            tenant.name, tenant.os_user
        )),
        None,
    )
    .await
}

pub(super) async fn delete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let name = ctx.request.form().get("name").cloned().unwrap_or_default();
    let mut client = ctx.client().await?;
    let deleted = audited::tenant_delete(&mut client, &ctx.who.actor(), &name).await?;
    drop(client);
    if deleted {
        page(ctx, Some(format!("Tenant {name} deleted.")), None).await
    } else {
        page(ctx, None, Some(format!("tenant {name} does not exist"))).await
    }
}
