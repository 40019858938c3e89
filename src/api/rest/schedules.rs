//! `/api/v1/schedules` and `/api/v1/cron/preview`.

use serde::Deserialize;
use warp::http::StatusCode;

use super::query::Query;
use super::{Answer, Ctx, ok, parse_id};
use crate::api::error::ApiError;
use crate::store::audited::{self, ScheduleChange};
use crate::store::members::{Access, Owned};
use crate::store::{definitions, schedules};

/// Fire times a preview shows when the caller does not say.
const DEFAULT_PREVIEW: i64 = 10;

/// Needs no database; the caller is authenticated like every `/api/v1` call.
pub(super) async fn preview(ctx: Ctx<'_>) -> Answer {
    let q = Query::of(ctx.request);
    let expr = q
        .get("expr")
        .ok_or_else(|| ApiError::bad_request("expr is required"))?;
    let tz = q.get("tz").unwrap_or("UTC");
    let count = q.limit("count", DEFAULT_PREVIEW)? as usize;
    let times =
        crate::cron::preview(expr, tz, q.get("from"), count).map_err(ApiError::bad_request)?;
    ok(serde_json::json!({ "times": times }))
}

pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    let q = Query::of(ctx.request);
    let list = schedules::list(&ctx.client, q.get("project"), ctx.who.viewer()).await?;
    ok(serde_json::json!({ "schedules": list }))
}

pub(super) async fn post(ctx: Ctx<'_>) -> Answer {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewSchedule {
        project: String,
        workflow: String,
        cron: String,
        #[serde(default)]
        timezone: Option<String>,
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
        #[serde(default)]
        misfire: Option<String>,
        #[serde(default)]
        enabled: Option<bool>,
    }
    let body: NewSchedule = serde_json::from_slice(&ctx.request.body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let client = &ctx.client;
    ctx.who
        .require_project(client, &body.project, Access::Write)
        .await?;
    let timezone = body.timezone.unwrap_or_else(|| "UTC".into());
    let tz: chrono_tz::Tz =
        crate::cron::parse_zone(&timezone).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    crate::cron::Schedule::new(&body.cron, &timezone)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let misfire = body.misfire.unwrap_or_else(|| "fire_once".into());
    if misfire != "fire_once" && misfire != "skip" {
        return Err(ApiError::unprocessable(format!(
            "misfire {misfire:?} is not fire_once or skip"
        )));
    }
    let bound = |text: &Option<String>| -> Result<_, ApiError> {
        text.as_deref()
            .map(|t| schedules::parse_bound(t, tz))
            .transpose()
            .map_err(ApiError::unprocessable)
    };
    let schedule = schedules::YamlSchedule {
        cron: body.cron,
        timezone,
        start_at: bound(&body.start)?,
        end_at: bound(&body.end)?,
        misfire,
        enabled: body.enabled.unwrap_or(true),
    };
    let current = definitions::find_workflow(client, &body.project, &body.workflow)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "workflow {}/{} does not exist",
                body.project, body.workflow
            ))
        })?;
    let (actor, now) = (ctx.who.actor(), ctx.now);
    let mut client = ctx.client;
    let id = audited::schedule_add(
        &mut client,
        &actor,
        &current,
        &body.project,
        &body.workflow,
        &schedule,
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, serde_json::json!({ "id": id })))
}

pub(super) async fn delete(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::Schedule(id), Access::Write)
        .await?;
    let mut client = ctx.client;
    if audited::schedule_change(&mut client, &ctx.who.actor(), id, ScheduleChange::Delete).await? {
        ok(serde_json::json!({ "deleted": id }))
    } else {
        Err(ApiError::not_found(format!(
            "schedule {id} does not exist or comes from YAML (change the YAML instead)"
        )))
    }
}
