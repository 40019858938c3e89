//! The project page's import from DolphinScheduler: paste an export, preview the report,
//! confirm to apply it in one transaction. Writers of the project only; the form carries
//! the session's CSRF token like every other form (checked in `mod.rs`).

use super::{Ctx, redirect, render};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::ImportPage;
use crate::import::dolphinscheduler::{self, Input, MAX_FILE_BYTES, Options};
use crate::store::definitions;
use crate::store::members::Access;

pub(super) async fn page(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    let client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    render(&ImportPage {
        nav: ctx.nav("projects"),
        project: project.to_string(),
        text: String::new(),
        allow_unsupported: false,
        problems: Vec::new(),
        report: None,
        workflows: Vec::new(),
    })
}

pub(super) async fn submit(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    {
        let client = ctx.client().await?;
        ctx.who
            .require_project(&client, project, Access::Write)
            .await?;
    }
    let form = ctx.request.form();
    let text = form.get("export").cloned().unwrap_or_default();
    let allow_unsupported = form.contains_key("allow_unsupported");
    let confirm = form.get("confirm").is_some_and(|c| c == "yes");
    let mut page = ImportPage {
        nav: ctx.nav("projects"),
        project: project.to_string(),
        text: String::new(),
        allow_unsupported,
        problems: Vec::new(),
        report: None,
        workflows: Vec::new(),
    };
    if text.len() > MAX_FILE_BYTES {
        page.problems.push(format!(
            "the export is larger than {} MiB",
            MAX_FILE_BYTES >> 20
        ));
        return unprocessable(&page);
    }
    page.text = text;
    let options = Options {
        project: Some(project.to_string()),
        allow_unsupported,
    };
    let imported = match dolphinscheduler::import(
        &[Input {
            file: "export.json",
            text: &page.text,
        }],
        &options,
    ) {
        Ok(imported) => imported,
        Err(problems) => {
            page.problems = problems.iter().map(|p| p.to_string()).collect();
            return unprocessable(&page);
        }
    };
    if !confirm {
        page.report = Some(imported.report.to_markdown());
        page.workflows = imported
            .workflows
            .iter()
            .map(|w| format!("{}/{}", w.project, w.name))
            .collect();
        return render(&page);
    }
    let mut checked = crate::apply::check_documents("import", &imported.yaml()).map_err(|e| {
        ApiError::bad_request(format!("{} problems in the converted documents", e.len()))
    })?;
    let mut client = ctx.client().await?;
    crate::api::references::require(ctx.who, &client, &checked.workflows).await?;
    // A datasource the project already has is left as it is (it may have been completed).
    let existing = crate::store::datasources::list(&client, project).await?;
    checked
        .datasources
        .retain(|d| !existing.iter().any(|e| e.name == d.name));
    let datasources = checked
        .sealed_datasources(None)
        .map_err(ApiError::bad_request)?;
    definitions::apply_documents(
        &mut client,
        &ctx.who.actor(),
        &checked.workflows,
        &[],
        &datasources,
        &[],
        &[],
        &[],
        &Default::default(),
    )
    .await?;
    Ok(redirect(&format!("/projects/{project}")))
}

fn unprocessable(page: &ImportPage) -> Result<Reply, ApiError> {
    let mut reply = render(page)?;
    *reply.status_mut() = warp::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(reply)
}
