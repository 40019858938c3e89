//! `/api/v1/projects/{p}/workflows/{w}/runs` and `/api/v1/backfills`: starting work. A run
//! is one start command; a backfill is one start command per date, created up front.

use serde::Deserialize;
use warp::http::StatusCode;

use super::{Answer, Ctx, ok, parse_id};
use crate::api::error::ApiError;
use crate::model::CommandType;
use crate::store::members::{Access, Owned};
use crate::store::{backfills, commands, definitions};

/// The body of `POST .../runs`, and what the web admin's run dialog submits.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub start_nodes: Option<Vec<String>>,
    #[serde(default)]
    pub backfill: Option<serde_json::Value>,
    /// This run's priority instead of the workflow's.
    #[serde(default)]
    pub priority: Option<String>,
    /// This run's failure strategy instead of the workflow's.
    #[serde(default)]
    pub failure_strategy: Option<String>,
    /// This run's worker group instead of the workflow's (tasks naming their own keep it).
    #[serde(default)]
    pub worker_group: Option<String>,
}

impl RunBody {
    /// The execution options, checked (422 names a bad one).
    fn overrides(&self) -> Result<crate::model::RunOverrides, ApiError> {
        let options = serde_json::json!({
            "priority": self.priority,
            "failure_strategy": self.failure_strategy,
            "worker_group": self.worker_group,
        });
        crate::model::RunOverrides::from_options(&options)
            .map_err(|e| ApiError::unprocessable(e.replacen("options.", "", 1)))
    }
}

/// `POST /projects/{p}/workflows/{w}/runs`: a run, or a backfill when the body has one.
pub(super) async fn post(ctx: Ctx<'_>, project: &str, workflow: &str) -> Answer {
    ctx.who
        .require_project(&ctx.client, project, Access::Write)
        .await?;
    let (request, who, mut client) = (ctx.request, ctx.who, ctx.client);
    let body: RunBody = if request.body.iter().all(u8::is_ascii_whitespace) {
        RunBody::default()
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?
    };
    let (instance_ids, backfill_id) = start(&mut client, &who, project, workflow, body).await?;
    let mut answer = serde_json::json!({ "instance_ids": instance_ids });
    if let Some(id) = backfill_id {
        answer["backfill_id"] = id.into();
    }
    Ok((StatusCode::CREATED, answer))
}

/// Start a run (one instance) or a backfill (one instance per date, created up front):
/// the instance ids in date order, and the backfill's id.
pub async fn start(
    client: &mut deadpool_postgres::Object,
    who: &crate::api::auth::Principal,
    project: &str,
    workflow: &str,
    body: RunBody,
) -> Result<(Vec<i64>, Option<i64>), ApiError> {
    // Memberships may have changed since the definition was applied.
    crate::api::references::require_for_run(who, &*client, project, workflow).await?;
    let overrides = body.overrides()?;
    if let Some(nodes) = &body.start_nodes {
        if nodes.is_empty() {
            return Err(ApiError::unprocessable("start_nodes is empty"));
        }
        if body.backfill.is_some() {
            return Err(ApiError::unprocessable(
                "start_nodes and backfill do not go together",
            ));
        }
        let (spec, _) = definitions::get_spec(&*client, project, workflow, None)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
            })?;
        if let Some(unknown) = nodes
            .iter()
            .find(|n| !spec.tasks.iter().any(|t| &t.name == *n))
        {
            return Err(ApiError::unprocessable(format!(
                "start node {unknown} is not a task of {project}/{workflow}"
            )));
        }
    }
    if let Some(backfill) = &body.backfill {
        let mut request =
            backfill_request(backfill, serde_json::Value::Object(body.params.clone()))?;
        request.options = overrides.to_options();
        let tx = client.transaction().await?;
        let (backfill_id, instance_ids) =
            backfills::start(&tx, &who.actor(), project, workflow, &request).await?;
        tx.commit().await?;
        return Ok((instance_ids, Some(backfill_id)));
    }
    let current = definitions::find_workflow(&*client, project, workflow)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
        })?;
    if current.release == crate::model::Release::Offline {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offline",
            format!(
                "workflow {project}/{workflow} is offline: new runs are refused until it is put back online (pgdag workflow online {project}/{workflow})"
            ),
        ));
    }
    let params = serde_json::Value::Object(body.params);
    let mut options = overrides.to_options();
    if let Some(nodes) = &body.start_nodes {
        options.insert("start_nodes".into(), serde_json::json!(nodes));
    }
    let options = serde_json::Value::Object(options);
    let (_, instance_id) = commands::insert(
        &*client,
        &who.actor(),
        CommandType::Start,
        Some(project),
        Some(workflow),
        &params,
        &options,
        None,
    )
    .await?;
    Ok((vec![instance_id], None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    dates: Option<Vec<chrono::NaiveDate>>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    parallelism: Option<i32>,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    stop_on_failure: bool,
}

fn backfill_request(
    value: &serde_json::Value,
    params: serde_json::Value,
) -> Result<crate::cron::backfill::Request, ApiError> {
    let body: BackfillBody = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::bad_request(format!("backfill: {e}")))?;
    let span = match (body.from, body.to, body.dates) {
        (Some(from), Some(to), None) => crate::cron::backfill::Span::Range { from, to },
        (None, None, Some(dates)) => crate::cron::backfill::Span::Dates(dates),
        _ => {
            return Err(ApiError::bad_request(
                "backfill needs either from and to, or dates",
            ));
        }
    };
    let serial = match body.mode.as_deref() {
        None | Some("serial") => true,
        Some("parallel") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "backfill mode {other:?} is not serial or parallel"
            )));
        }
    };
    let descending = match body.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "backfill order {other:?} is not asc or desc"
            )));
        }
    };
    Ok(crate::cron::backfill::Request {
        span,
        serial,
        parallelism: body.parallelism.unwrap_or(1),
        descending,
        stop_on_failure: body.stop_on_failure,
        params,
        options: Default::default(),
    })
}

pub(super) async fn backfill(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::Backfill(id), Access::Read)
        .await?;
    match backfills::get(&ctx.client, id).await? {
        Some(b) => ok(b),
        None => Err(ApiError::not_found(format!("backfill {id} does not exist"))),
    }
}

pub(super) async fn cancel_backfill(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::Backfill(id), Access::Write)
        .await?;
    let mut client = ctx.client;
    let tx = client.transaction().await?;
    backfills::cancel(&tx, &ctx.who.actor(), id).await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        serde_json::json!({"backfill_id": id, "state": "cancelled"}),
    ))
}
