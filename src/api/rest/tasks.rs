//! `/api/v1/task-instances`: one task's log, forcing a failed task to success, and
//! retrying a task in place with its downstream.

use warp::http::StatusCode;

use super::query::Query;
use super::{Answer, Ctx, ok, parse_id};
use crate::api::error::ApiError;
use crate::model::CommandType;
use crate::store::members::{Access, Owned};
use crate::store::{commands, instances, logs};

pub(super) async fn force_success(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::TaskInstance(id), Access::Write)
        .await?;
    let (instance, _) = instances::task_owner(&ctx.client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task instance {id} does not exist")))?;
    let command = commands::insert_task_command(
        &ctx.client,
        &ctx.who.actor(),
        CommandType::ForceSuccess,
        instance,
        id,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        serde_json::json!({"instance_id": instance, "task_instance_id": id, "command_id": command}),
    ))
}

/// `POST /task-instances/{id}/retry`: run a final task again within its instance, with
/// everything downstream of it. 202 with the command; 409 with the reason when the task is
/// still running or its instance is being stopped.
pub(super) async fn retry(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::TaskInstance(id), Access::Write)
        .await?;
    if let Some((instance, _)) = instances::task_owner(&ctx.client, id).await? {
        crate::api::references::require_for_instance(&ctx.who, &ctx.client, instance).await?;
    }
    let (instance, command) =
        commands::insert_retry_task(&ctx.client, &ctx.who.actor(), id).await?;
    Ok((
        StatusCode::ACCEPTED,
        serde_json::json!({"instance_id": instance, "task_instance_id": id, "command_id": command}),
    ))
}

/// `POST /task-instances/{id}/hold` and `/release`: keep a task that has not started from
/// being dispatched, or let it go. 202 with the command; 409 with the reason (the task has
/// started or ended, is already held, or is not held).
pub(super) async fn hold(ctx: Ctx<'_>, id: &str, hold: bool) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::TaskInstance(id), Access::Write)
        .await?;
    let (instance, command) =
        commands::insert_hold(&ctx.client, &ctx.who.actor(), id, hold).await?;
    Ok((
        StatusCode::ACCEPTED,
        serde_json::json!({"instance_id": instance, "task_instance_id": id, "command_id": command}),
    ))
}

/// `GET /task-instances/{id}/log?after=SEQ`: the chunks after `after`, and where to go on.
pub(super) async fn log(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    ctx.who
        .require_owner(&ctx.client, Owned::TaskInstance(id), Access::Read)
        .await?;
    let q = Query::of(ctx.request);
    // A sequence number, not a count: 0 and up, no upper bound.
    let after =
        match q.get("after") {
            None => 0,
            Some(a) => a.parse::<i32>().ok().filter(|a| *a >= 0).ok_or_else(|| {
                ApiError::bad_request(format!("after={a} is not a sequence number"))
            })?,
        };
    // `tail=N`: the last N chunks (before `before=SEQ` when given), with `first_seq`.
    let number = |key: &str| -> Result<Option<i32>, ApiError> {
        q.get(key)
            .map(|v| {
                v.parse::<i32>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                    ApiError::bad_request(format!("{key}={v} is not a whole number"))
                })
            })
            .transpose()
    };
    if let Some(tail) = number("tail")? {
        let chunks = i64::from(tail).clamp(1, logs::DEFAULT_PAGE_CHUNKS);
        let page = logs::read_tail(&ctx.client, id, number("before")?, chunks).await?;
        return ok(serde_json::to_value(page).unwrap_or_default());
    }
    let page = logs::read(&ctx.client, id, after, logs::DEFAULT_PAGE_CHUNKS).await?;
    ok(serde_json::to_value(page).unwrap_or_default())
}
