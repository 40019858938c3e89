//! `/api/v1/projects/{p}/variables`, `.../secrets` and `.../hooks`: a project's variables
//! (readers read, writers replace), its secrets (readers see names only, writers set and
//! delete; a value is never answered back) and its webhooks (writers only).

use std::collections::BTreeMap;

use serde::Deserialize;
use warp::http::StatusCode;

use super::{Answer, Ctx, ok, parse_id, spec_errors};
use crate::api::error::ApiError;
use crate::store::members::Access;
use crate::store::{audit, audited, definitions, hooks, project_values};

/// Checks a JSON body written as the fields of a `kind` document of `project` (what the
/// YAML document would say, without `kind` and `project`) the way `pgdag apply` does.
fn as_document(
    kind: &str,
    project: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Result<crate::apply::Checked, ApiError> {
    let mut fields: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    for key in ["kind", "project"] {
        if fields.contains_key(key) {
            return Err(ApiError::unprocessable(format!(
                "`{key}` comes from the path; leave it out of the body"
            )));
        }
    }
    fields.insert("kind".into(), kind.into());
    fields.insert("project".into(), project.into());
    for (k, v) in extra {
        fields.insert((*k).into(), (*v).into());
    }
    let text = serde_json::Value::Object(fields).to_string();
    crate::apply::check_documents("request", &text).map_err(spec_errors)
}

/// `GET /projects/{p}/variables`.
pub(super) async fn get_variables(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let (values, updated_at) = match project_values::get_variables(&ctx.client, project).await? {
        Some((values, at)) => (values, Some(at)),
        None => (BTreeMap::new(), None),
    };
    ok(serde_json::json!({ "project": project, "values": values, "updated_at": updated_at }))
}

/// `PUT /projects/{p}/variables` with `{"values": {...}}`: the whole set, replaced.
pub(super) async fn put_variables(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let checked = as_document("variables", project, &ctx.request.body, &[])?;
    let [variables] = &checked.variables[..] else {
        return Err(ApiError::unprocessable("the body must hold `values`"));
    };
    let mut client = ctx.client;
    audited::variables_set(&mut client, &ctx.who.actor(), project, &variables.values).await?;
    ok(serde_json::json!({ "project": project, "values": variables.values }))
}

/// `GET /projects/{p}/secrets`: names and where each value comes from, never a value.
pub(super) async fn list_secrets(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let secrets = project_values::list_secrets(&ctx.client, project).await?;
    ok(serde_json::json!({ "secrets": secrets }))
}

/// `PUT /projects/{p}/secrets/{name}` with `{"value": "..."}` (encrypted with this
/// process's `PGDAG_SECRET_KEY`) or `{"value_env": "VAR"}`: 201 created, 200 replaced.
pub(super) async fn put_secret(ctx: Ctx<'_>, project: &str, name: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let checked = as_document("secret", project, &ctx.request.body, &[("name", name)])?;
    let key = crate::secret::SecretKey::from_env().map_err(ApiError::unprocessable)?;
    let sealed = checked
        .sealed_secrets(key.as_ref())
        .map_err(ApiError::unprocessable)?;
    let [secret] = &sealed[..] else {
        return Err(ApiError::unprocessable(
            "the body must hold `value` or `value_env`",
        ));
    };
    let mut client = ctx.client;
    let created = audited::secret_set(&mut client, &ctx.who.actor(), secret).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        serde_json::json!({ "name": name, "value_env": secret.value_env, "stored": secret.value_secret.is_some() }),
    ))
}

pub(super) async fn delete_secret(ctx: Ctx<'_>, project: &str, name: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let mut client = ctx.client;
    if !audited::secret_delete(&mut client, &ctx.who.actor(), project, name).await? {
        return Err(ApiError::not_found(format!(
            "secret {project}/{name} does not exist"
        )));
    }
    ok(serde_json::json!({ "deleted": name }))
}

/// `GET /projects/{p}/hooks` (writers): the project's webhooks, never their tokens.
pub(super) async fn list_hooks(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let hooks = hooks::list(&ctx.client, project, None).await?;
    ok(serde_json::json!({ "hooks": hooks }))
}

/// `POST /projects/{p}/workflows/{w}/hooks` (writers): a new webhook; its token is in this
/// answer only.
pub(super) async fn create_hook(ctx: Ctx<'_>, project: &str, workflow: &str) -> Answer {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    if !ctx.request.body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_slice::<Empty>(&ctx.request.body)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    }
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    let created = create(&tx, &ctx.who.actor(), project, workflow, ctx.now)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound(m) => ApiError::not_found(m),
            other => other.into(),
        })?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        serde_json::json!({
            "id": created.0,
            "project": project,
            "workflow": workflow,
            "token": created.1,
            // Relative to this API's address (the CLI prints it under PGDAG_PUBLIC_URL).
            "path": format!("/hooks/{}", created.1),
        }),
    ))
}

/// Where a hook's token is posted to.
pub fn hook_url(public_url: &str, token: &str) -> String {
    format!("{}/hooks/{token}", public_url.trim_end_matches('/'))
}

/// Creates a webhook for an existing workflow, audited: its id and token. Shared by the
/// CLI and REST.
pub async fn create(
    tx: &impl crate::store::db::Conn,
    actor: &str,
    project: &str,
    workflow: &str,
    now: crate::store::Now,
) -> Result<(i64, String), crate::store::StoreError> {
    if definitions::find_workflow(tx, project, workflow)
        .await?
        .is_none()
    {
        return Err(crate::store::StoreError::NotFound(format!(
            "workflow {project}/{workflow} does not exist"
        )));
    }
    let project_id = definitions::upsert_project(tx, project).await?;
    let (id, token) = hooks::create(tx, project_id, workflow, actor, now).await?;
    audit::record(
        tx,
        actor,
        "hook.create",
        Some(project),
        Some(workflow),
        serde_json::json!({ "hook_id": id }),
    )
    .await?;
    Ok((id, token))
}

/// Revokes a hook, audited: the hook, or `None` when it does not exist. Revoking twice is
/// not an error.
pub async fn revoke(
    tx: &impl crate::store::db::Conn,
    actor: &str,
    id: i64,
    now: crate::store::Now,
) -> Result<Option<hooks::Hook>, crate::store::StoreError> {
    let Some(hook) = hooks::get(tx, id).await? else {
        return Ok(None);
    };
    if hooks::revoke(tx, id, now).await? {
        audit::record(
            tx,
            actor,
            "hook.revoke",
            Some(hook.project.as_str()),
            Some(hook.workflow.as_str()),
            serde_json::json!({ "hook_id": id }),
        )
        .await?;
    }
    hooks::get(tx, id).await
}

/// `DELETE /projects/{p}/hooks/{id}` (writers): revoke.
pub(super) async fn revoke_hook(ctx: Ctx<'_>, project: &str, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    // A hook of another project is as invisible as one that does not exist.
    let hook = match hooks::get(&tx, id).await? {
        Some(h) if h.project == project => revoke(&tx, &ctx.who.actor(), id, ctx.now).await?,
        _ => None,
    };
    tx.commit().await?;
    match hook {
        Some(hook) => ok(serde_json::json!({ "hook": hook })),
        None => Err(ApiError::not_found(format!(
            "hook {id} of project {project} does not exist"
        ))),
    }
}
