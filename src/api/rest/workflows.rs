//! `/api/v1/projects/{p}/workflows`: applying definitions, reading them and their versions,
//! switching back to a version.

use warp::http::StatusCode;

use super::{Answer, Ctx, ok, spec_errors};
use crate::api::error::ApiError;
use crate::store::definitions;
use crate::store::members::Access;

pub(super) async fn list(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let workflows = definitions::list_workflows(&ctx.client, project).await?;
    ok(super::listing::workflows(&workflows))
}

/// `POST /projects/{p}/workflows`: YAML (any number of workflow documents) or one workflow
/// as JSON (`Content-Type: application/json`).
pub(super) async fn apply(ctx: Ctx<'_>, project: &str) -> Answer {
    let Ctx {
        store,
        request,
        who,
        client,
        ..
    } = ctx;
    // Applying into a new project creates it: only admins may.
    if definitions::project_exists(&client, project).await? {
        who.require_project(&client, project, Access::Write).await?;
    } else {
        who.require_admin()?;
    }
    // One pooled connection at a time: this one goes back before the body is checked,
    // and a fresh one applies.
    drop(client);
    let text = std::str::from_utf8(&request.body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let is_json = request
        .header("content-type")
        .is_some_and(|c| c.contains("json"));
    let specs = if is_json {
        let spec = crate::spec::parse_workflow_json("request", text).map_err(spec_errors)?;
        let document = crate::spec::Document::Workflow(spec.clone());
        let mut errors = crate::spec::unavailable_features("request", &document);
        for (pos, message) in crate::tasks::validate_document(&document) {
            errors.push(crate::spec::SpecError {
                file: "request".into(),
                line: pos.line,
                column: pos.column,
                message,
            });
        }
        if !errors.is_empty() {
            return Err(spec_errors(errors));
        }
        vec![spec]
    } else {
        crate::apply::check_text("request", text).map_err(spec_errors)?
    };
    if specs.is_empty() {
        return Err(ApiError::unprocessable("the body holds no workflow"));
    }
    if let Some(other) = specs.iter().find(|s| s.project != project) {
        return Err(ApiError::unprocessable(format!(
            "workflow {} belongs to project {}, not {project}",
            other.name, other.project
        )));
    }
    let mut client = store.client().await?;
    // Before anything that could say whether another project's workflow exists.
    crate::api::references::require(&who, &client, &specs).await?;
    let applied = definitions::apply_all(&mut client, &who.actor(), &specs).await?;
    let status = if applied
        .iter()
        .any(|a| a.outcome == definitions::ApplyOutcome::Created)
    {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, serde_json::json!({"applied": applied})))
}

pub(super) async fn get(ctx: Ctx<'_>, project: &str, workflow: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let (spec, version) = definitions::get_spec(&ctx.client, project, workflow, None)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
        })?;
    ok(
        serde_json::json!({"project": project, "name": workflow, "version": version, "definition": spec}),
    )
}

pub(super) async fn versions(ctx: Ctx<'_>, project: &str, workflow: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let versions = definitions::list_versions(&ctx.client, project, workflow).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!(
            "workflow {project}/{workflow} does not exist"
        )));
    }
    ok(serde_json::json!({"versions": versions}))
}

pub(super) async fn version(ctx: Ctx<'_>, project: &str, workflow: &str, version: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let number = parse_version(version)?;
    let (spec, version) = definitions::get_spec(&ctx.client, project, workflow, Some(number))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "workflow {project}/{workflow} has no version {number}"
            ))
        })?;
    ok(
        serde_json::json!({"project": project, "name": workflow, "version": version, "definition": spec}),
    )
}

pub(super) async fn switch(ctx: Ctx<'_>, project: &str, workflow: &str, version: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let number = parse_version(version)?;
    // The old version's references are held to today's memberships.
    if let Some((spec, _)) =
        definitions::get_spec(&ctx.client, project, workflow, Some(number)).await?
    {
        crate::api::references::require(&ctx.who, &ctx.client, &[spec]).await?;
    }
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    definitions::switch_version(&tx, &ctx.who.actor(), project, workflow, number).await?;
    tx.commit().await?;
    ok(serde_json::json!({"project": project, "name": workflow, "version": number}))
}

/// `POST /projects/{p}/workflows/{w}/online|offline`: a new version with that `release`
/// (unchanged when it already is). Offline: its schedules do not fire and new starts are
/// refused; runs in progress finish.
pub(super) async fn release(ctx: Ctx<'_>, project: &str, workflow: &str, to: &str) -> Answer {
    let release: crate::model::Release = to
        .parse()
        .map_err(|_| ApiError::not_found(format!("no action {to} (online, offline)")))?;
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    let applied =
        definitions::set_release(&tx, &ctx.who.actor(), project, workflow, release).await?;
    tx.commit().await?;
    ok(serde_json::json!({
        "project": project,
        "name": workflow,
        "release": release.as_str(),
        "version": applied.version,
        "outcome": applied.outcome,
    }))
}

/// Whether `?with_history=true` was given.
fn with_history(ctx: &Ctx<'_>) -> Result<bool, ApiError> {
    match super::query::Query::of(ctx.request).get("with_history") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "with_history={other}: true or false"
        ))),
    }
}

/// `DELETE /projects/{p}/workflows/{w}[?with_history=true]`: admins only; 409 while
/// instances of it have not ended.
pub(super) async fn delete(ctx: Ctx<'_>, project: &str, workflow: &str) -> Answer {
    ctx.who.require_admin()?;
    let history = with_history(&ctx)?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    let deleted =
        definitions::delete_workflow(&tx, &ctx.who.actor(), project, workflow, history).await?;
    tx.commit().await?;
    ok(serde_json::json!({"deleted": deleted}))
}

/// `DELETE /projects/{p}[?with_history=true]`: admins only; 409 while instances of it
/// have not ended.
pub(super) async fn delete_project(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who.require_admin()?;
    let history = with_history(&ctx)?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    let deleted = definitions::delete_project(&tx, &ctx.who.actor(), project, history).await?;
    tx.commit().await?;
    ok(serde_json::json!({"project": project, "deleted": deleted}))
}

fn parse_version(text: &str) -> Result<i32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("version {text:?} is not a number")))
}
