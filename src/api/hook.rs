//! `POST /hooks/{token}`: a webhook starts a run. The token is the only credential; an
//! unknown and a revoked token get the same 404. The body's top-level keys are the run's
//! params (checked against the workflow's declared params when it declares any). Each hook
//! spends from a token bucket kept in its row (`store::hooks`), shared by every API server:
//! 429 with `Retry-After` when it is empty. The start is an ordinary start command whose
//! actor is `hook:<id>`, audited.

use warp::http::{Method, StatusCode};

use super::error::ApiError;
use super::{Reply, Request, Settings};
use crate::model::CommandType;
use crate::store::{Store, audit, commands, definitions, hooks};

/// Largest body a hook takes.
pub const MAX_HOOK_BODY_BYTES: usize = 64 * 1024;
/// Most params a hook's body may hold.
pub const MAX_HOOK_PARAMS: usize = 100;

pub async fn handle(store: &Store, settings: &Settings, request: &Request, token: &str) -> Reply {
    match start(store, settings, request, token).await {
        Ok((id, instance_id)) => super::rest::json_reply(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "hook_id": id, "instance_id": instance_id }),
        ),
        Err((e, retry_after)) => {
            let mut reply = super::rest::error_reply(e);
            if let Some(secs) = retry_after
                && let Ok(value) = secs.to_string().parse::<warp::http::HeaderValue>()
            {
                reply.headers_mut().insert("retry-after", value);
            }
            reply
        }
    }
}

type Refusal = (ApiError, Option<u64>);

fn refuse(e: impl Into<ApiError>) -> Refusal {
    (e.into(), None)
}

async fn start(
    store: &Store,
    settings: &Settings,
    request: &Request,
    token: &str,
) -> Result<(i64, i64), Refusal> {
    let unknown = || refuse(ApiError::not_found("no such hook"));
    if request.method != Method::POST {
        return Err(refuse(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "a hook is called with POST",
        )));
    }
    if token.is_empty() || token.len() > 200 || token.contains('/') {
        return Err(unknown());
    }
    if request.body.len() > MAX_HOOK_BODY_BYTES {
        return Err(refuse(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a hook's body is at most {MAX_HOOK_BODY_BYTES} bytes"),
        )));
    }
    let now = settings.clock.now();
    let mut client = store.client().await.map_err(refuse)?;
    // Spent in a statement of its own: a call refused later (bad body, offline workflow)
    // still counts against the hook.
    let taken = hooks::take(&client, token, hooks::DEFAULT_RATE, now)
        .await
        .map_err(refuse)?
        .ok_or_else(unknown)?;
    if !taken.allowed {
        return Err((
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("hook {} is called too often; try again later", taken.id),
            ),
            Some(taken.retry_after.ceil() as u64),
        ));
    }
    let params = body_params(&request.body).map_err(refuse)?;
    let tx = client.transaction().await.map_err(refuse)?;
    let (project, workflow) = (&taken.project, &taken.workflow);
    let gone = || {
        refuse(ApiError::not_found(format!(
            "workflow {project}/{workflow} of hook {} does not exist",
            taken.id
        )))
    };
    let current = definitions::find_workflow(&tx, project, workflow)
        .await
        .map_err(refuse)?
        .ok_or_else(gone)?;
    if current.release == crate::model::Release::Offline {
        return Err(refuse(ApiError::new(
            StatusCode::CONFLICT,
            "offline",
            format!("workflow {project}/{workflow} is offline: new runs are refused"),
        )));
    }
    let (spec, _) = definitions::get_spec(&tx, project, workflow, None)
        .await
        .map_err(refuse)?
        .ok_or_else(gone)?;
    if !spec.params.is_empty()
        && let Some(unknown) = params.keys().find(|k| !spec.params.contains_key(*k))
    {
        return Err(refuse(ApiError::unprocessable(format!(
            "param {unknown:?} is not declared by workflow {project}/{workflow} (declared: {})",
            spec.params.keys().cloned().collect::<Vec<_>>().join(", ")
        ))));
    }
    let actor = format!("hook:{}", taken.id);
    let params = serde_json::Value::Object(params);
    let (_, instance_id) = commands::insert(
        &tx,
        &actor,
        CommandType::Start,
        Some(project.as_str()),
        Some(workflow.as_str()),
        &params,
        &serde_json::json!({}),
        None,
    )
    .await
    .map_err(refuse)?;
    audit::record(
        &tx,
        &actor,
        "hook.start",
        Some(project.as_str()),
        Some(workflow.as_str()),
        serde_json::json!({ "hook_id": taken.id, "instance_id": instance_id, "params": params.as_object().map(|p| p.keys().collect::<Vec<_>>()) }),
    )
    .await
    .map_err(refuse)?;
    tx.commit().await.map_err(refuse)?;
    Ok((taken.id, instance_id))
}

/// The body's top-level keys as params: a JSON object (or nothing), at most
/// [`MAX_HOOK_PARAMS`] keys, each a valid param name.
fn body_params(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Default::default());
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    if map.len() > MAX_HOOK_PARAMS {
        return Err(ApiError::unprocessable(format!(
            "the body has {} keys; a hook takes at most {MAX_HOOK_PARAMS} params",
            map.len()
        )));
    }
    if let Some((k, problem)) = map
        .keys()
        .find_map(|k| crate::spec::name_problem(k).map(|p| (k, p)))
    {
        return Err(ApiError::unprocessable(format!(
            "{k:?} is not a param name: {problem}"
        )));
    }
    Ok(map)
}
