//! Managing definitions from the web admin: a workflow online/offline (writers), deleting a
//! workflow or a project (admins, after a confirm page: a plain form, no script). The same
//! store functions as `pgdag workflow online|offline|delete`, `pgdag project delete` and
//! their REST routes, so the rules (refused while instances run, finished instances kept
//! unless "with history") are theirs.

use super::{Ctx, redirect, render, workflow_href};
use crate::api::error::ApiError;
use crate::api::pages::ConfirmDeletePage;
use crate::api::{Reply, percent_encode};
use crate::store::definitions;
use crate::store::members::Access;

/// `POST /projects/{p}/workflows/{w}/online|offline`.
pub(super) async fn release(
    ctx: &Ctx<'_>,
    project: &str,
    workflow: &str,
    to: &str,
) -> Result<Reply, ApiError> {
    let release: crate::model::Release = to
        .parse()
        .map_err(|_| ApiError::not_found(format!("no action {to} (online, offline)")))?;
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let tx = client.transaction().await?;
    definitions::set_release(&tx, &ctx.who.actor(), project, workflow, release).await?;
    tx.commit().await?;
    Ok(redirect(&workflow_href(project, workflow)))
}

/// `GET /projects/{p}/workflows/{w}/delete` and `GET /projects/{p}/delete`: what will go,
/// and the form that does it. Admins only, like the deletion itself.
pub(super) async fn confirm(
    ctx: &Ctx<'_>,
    project: &str,
    workflow: Option<&str>,
) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let client = ctx.client().await?;
    let (what, action, back) = match workflow {
        Some(w) => {
            if definitions::get_spec(&client, project, w, None)
                .await?
                .is_none()
            {
                return Err(ApiError::not_found(format!(
                    "workflow {project}/{w} does not exist"
                )));
            }
            let href = workflow_href(project, w);
            (
                format!("workflow {project}/{w}"),
                format!("{href}/delete"),
                href,
            )
        }
        None => {
            if !definitions::list_projects(&client, None)
                .await?
                .iter()
                .any(|p| p.name == project)
            {
                return Err(ApiError::not_found(format!(
                    "project {project} does not exist"
                )));
            }
            let href = format!("/projects/{}", percent_encode(project));
            (format!("project {project}"), format!("{href}/delete"), href)
        }
    };
    render(&ConfirmDeletePage {
        nav: ctx.nav("projects"),
        what,
        whole_project: workflow.is_none(),
        action,
        back,
    })
}

/// `POST /projects/{p}/workflows/{w}/delete` (from the confirm page): `with_history=1`
/// also removes finished instances.
pub(super) async fn delete_workflow(
    ctx: &Ctx<'_>,
    project: &str,
    workflow: &str,
) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let history = with_history(ctx);
    let mut client = ctx.client().await?;
    let tx = client.transaction().await?;
    definitions::delete_workflow(&tx, &ctx.who.actor(), project, workflow, history).await?;
    tx.commit().await?;
    Ok(redirect(&format!("/projects/{}", percent_encode(project))))
}

/// `POST /projects/{p}/delete` (from the confirm page).
pub(super) async fn delete_project(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let history = with_history(ctx);
    let mut client = ctx.client().await?;
    let tx = client.transaction().await?;
    definitions::delete_project(&tx, &ctx.who.actor(), project, history).await?;
    tx.commit().await?;
    Ok(redirect("/projects"))
}

fn with_history(ctx: &Ctx<'_>) -> bool {
    ctx.request
        .form()
        .get("with_history")
        .is_some_and(|v| v == "1")
}
