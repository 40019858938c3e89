//! `/api/v1/servers` and `/api/v1/task-groups`: what the cluster shares.

use serde::Deserialize;

use super::{Answer, Ctx, ok};
use crate::api::error::ApiError;
use crate::store::{servers, task_groups};

pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    let list = servers::list(&ctx.client).await?;
    ok(serde_json::json!({ "servers": list }))
}

pub(super) async fn task_groups(ctx: Ctx<'_>) -> Answer {
    let list = task_groups::list(&ctx.client).await?;
    ok(serde_json::json!({ "task_groups": list }))
}

pub(super) async fn put_task_group(ctx: Ctx<'_>, name: &str) -> Answer {
    // Task groups are shared by every project.
    ctx.who.require_admin()?;
    if let Some(problem) = crate::spec::name_problem(name) {
        return Err(ApiError::bad_request(format!("task group name: {problem}")));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Size {
        size: i32,
    }
    let body: Size = serde_json::from_slice(&ctx.request.body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    if body.size < 1 {
        return Err(ApiError::unprocessable("size must be at least 1"));
    }
    let mut client = ctx.client;
    crate::store::audited::task_group_set(&mut client, &ctx.who.actor(), name, body.size).await?;
    ok(serde_json::json!({ "name": name, "size": body.size }))
}
