//! `/api/v1/projects/{p}/datasources`.

use warp::http::StatusCode;

use super::{Answer, Ctx, ok, spec_errors};
use crate::api::error::ApiError;
use crate::store::members::Access;
use crate::store::{audited, datasources};

pub(super) async fn list(ctx: Ctx<'_>, project: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Read)
        .await?;
    let datasources = datasources::list(&ctx.client, project).await?;
    ok(serde_json::json!({"datasources": datasources}))
}

/// `POST /projects/{p}/datasources`: one `kind: datasource` document (YAML or its JSON
/// equivalent, which YAML reads too); a `password` is encrypted with this process's
/// `PGDAG_SECRET_KEY` and never answered back.
pub(super) async fn post(ctx: Ctx<'_>, project: &str) -> Answer {
    let Ctx {
        store,
        request,
        who,
        client,
        ..
    } = ctx;
    who.require_project(&client, project, Access::Write).await?;
    // One pooled connection at a time: this one goes back before the body is checked,
    // and a fresh one writes.
    drop(client);
    let text = std::str::from_utf8(&request.body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let checked = crate::apply::check_documents("request", text).map_err(spec_errors)?;
    if checked.single_kind() != Some("datasource") {
        return Err(ApiError::unprocessable(
            "the body must hold exactly one document of kind datasource",
        ));
    }
    let datasource = &checked.datasources[0];
    if datasource.project != project {
        return Err(ApiError::unprocessable(format!(
            "datasource {} belongs to project {}, not {project}",
            datasource.name, datasource.project
        )));
    }
    // Only an admin may point a datasource at the scheduler's own database.
    if datasource.allow_scheduler_database {
        who.require_admin()?;
    }
    let problems = crate::apply::scheduler_database_problems(
        &checked.datasources,
        std::slice::from_ref(&store.config),
    )
    .await;
    if let Some(problem) = problems.into_iter().next() {
        return Err(ApiError::unprocessable(problem));
    }
    let key = crate::secret::SecretKey::from_env().map_err(ApiError::unprocessable)?;
    let sealed = checked
        .sealed_datasources(key.as_ref())
        .map_err(ApiError::unprocessable)?;
    let mut client = store.client().await?;
    let created = audited::datasource_upsert(&mut client, &who.actor(), &sealed[0]).await?;
    let summary = datasources::list(&client, project)
        .await?
        .into_iter()
        .find(|d| d.name == datasource.name);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, serde_json::json!({"datasource": summary})))
}

pub(super) async fn delete(ctx: Ctx<'_>, project: &str, name: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let mut client = ctx.client;
    if audited::datasource_delete(&mut client, &ctx.who.actor(), project, name).await? {
        ok(serde_json::json!({"deleted": name}))
    } else {
        Err(ApiError::not_found(format!(
            "datasource {project}/{name} does not exist"
        )))
    }
}
