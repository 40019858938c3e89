//! The JSON API under `/api/v1`. Shapes are DESIGN §6's and docs/rest.md's. (`/healthz`,
//! `/readyz` and `/metrics` are `observe`'s.)
//!
//! [`route`] is the one route table: a `match` on method and path segments whose arms each
//! name a handler. Handlers live by resource, one file each — `projects` (and members),
//! `workflows` (apply, versions), `runs` (runs and backfills), `instances`, `tasks` (task
//! instances: logs, force-success, retry), `schedules` (and the cron preview), `datasources`,
//! `servers` (and task groups), `alerts` (and alert groups) — and take a [`Ctx`]: the
//! authenticated caller, a pooled connection and the request. Query strings are read through
//! [`query::Query`], which owns paging and limits.

mod alerts;
pub mod audit;
mod datasources;
mod instances;
pub mod listing;
pub mod openapi;
mod projects;
pub mod query;
mod runs;
mod schedules;
mod servers;
mod tasks;
mod tenants;
mod tokens;
pub mod values;
mod workflows;

use warp::http::{Method, Response, StatusCode};

use super::auth::{self, Principal};
use super::error::ApiError;
use super::{Reply, Request, Settings, percent_decode};
use crate::store::Store;

pub use runs::{RunBody, start};

/// What a handler answers: a status and a JSON body, or an error that becomes one.
type Answer = Result<(StatusCode, serde_json::Value), ApiError>;

/// What every `/api/v1` handler gets.
struct Ctx<'a> {
    store: &'a Store,
    request: &'a Request,
    /// The authenticated caller (CSRF already checked for a state-changing call).
    who: Principal,
    /// A pooled connection, taken once per request.
    client: deadpool_postgres::Object,
    /// The `$now` of time-dependent statements (the process's clock).
    now: crate::store::Now,
}

fn ok(value: serde_json::Value) -> Answer {
    Ok((StatusCode::OK, value))
}

pub(crate) fn json_reply(status: StatusCode, value: &serde_json::Value) -> Reply {
    json(status, value)
}

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(value.to_string())
        .expect("a valid response")
}

pub async fn handle(store: &Store, settings: &Settings, request: Request) -> Reply {
    match route(store, settings, &request).await {
        Ok((status, value)) => json(status, &value),
        Err(e) => error_reply(e),
    }
}

pub fn error_reply(e: ApiError) -> Reply {
    json(e.status, &e.body())
}

/// The caller, who must prove one (401 otherwise); a state-changing request made with the
/// session cookie must carry its CSRF token in the `X-CSRF-Token` header.
async fn authenticate(
    store: &Store,
    settings: &Settings,
    request: &Request,
) -> Result<Principal, ApiError> {
    let principal = auth::principal(store, request, settings)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing Authorization: Bearer <token> header (or a web session cookie)",
            )
        })?;
    if request.method != Method::GET && request.method != Method::HEAD {
        principal.check_csrf(request, None)?;
    }
    Ok(principal)
}

async fn route(store: &Store, settings: &Settings, request: &Request) -> Answer {
    let segments: Vec<String> = request
        .path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = &request.method;

    let ["api", "v1", rest @ ..] = segments.as_slice() else {
        return Err(ApiError::not_found(format!(
            "no route for {}",
            request.path
        )));
    };
    use Method as M;
    // The OpenAPI document (openapi.rs) describes the arms below; it needs no token.
    if let (M::GET, ["openapi.json"]) = (method.clone(), rest) {
        return ok(openapi::document());
    }
    let who = authenticate(store, settings, request).await?;
    let client = store.client().await?;
    let ctx = Ctx {
        store,
        request,
        who,
        client,
        now: settings.clock.now(),
    };
    match (method.clone(), rest) {
        (M::GET, ["projects"]) => projects::list(ctx).await,
        (M::GET, ["projects", p]) => projects::get(ctx, p).await,
        (M::GET, ["projects", p, "members"]) => projects::members(ctx, p).await,
        (M::PUT, ["projects", p, "members", user]) => projects::put_member(ctx, p, user).await,
        (M::DELETE, ["projects", p, "members", user]) => {
            projects::delete_member(ctx, p, user).await
        }

        (M::GET, ["projects", p, "workflows"]) => workflows::list(ctx, p).await,
        (M::POST, ["projects", p, "workflows"]) => workflows::apply(ctx, p).await,
        (M::GET, ["projects", p, "workflows", w]) => workflows::get(ctx, p, w).await,
        (M::GET, ["projects", p, "workflows", w, "versions"]) => {
            workflows::versions(ctx, p, w).await
        }
        (M::GET, ["projects", p, "workflows", w, "versions", v]) => {
            workflows::version(ctx, p, w, v).await
        }
        (M::POST, ["projects", p, "workflows", w, "versions", v, "switch"]) => {
            workflows::switch(ctx, p, w, v).await
        }

        (M::POST, ["projects", p, "workflows", w, "runs"]) => runs::post(ctx, p, w).await,
        (M::POST, ["projects", p, "workflows", w, to @ ("online" | "offline")]) => {
            workflows::release(ctx, p, w, to).await
        }
        (M::DELETE, ["projects", p, "workflows", w]) => workflows::delete(ctx, p, w).await,
        (M::DELETE, ["projects", p]) => workflows::delete_project(ctx, p).await,
        (M::GET, ["backfills", id]) => runs::backfill(ctx, id).await,
        (M::POST, ["backfills", id, "cancel"]) => runs::cancel_backfill(ctx, id).await,

        (M::GET, ["instances"]) => instances::list(ctx).await,
        (M::GET, ["instances", id]) => instances::get(ctx, id).await,
        (M::GET, ["instances", id, "tasks"]) => instances::tasks(ctx, id).await,
        (M::POST, ["instances", id, action]) => instances::control(ctx, id, action).await,

        (M::GET, ["task-instances", id, "log"]) => tasks::log(ctx, id).await,
        (M::POST, ["task-instances", id, "force-success"]) => tasks::force_success(ctx, id).await,
        (M::POST, ["task-instances", id, "retry"]) => tasks::retry(ctx, id).await,
        (M::POST, ["task-instances", id, "hold"]) => tasks::hold(ctx, id, true).await,
        (M::POST, ["task-instances", id, "release"]) => tasks::hold(ctx, id, false).await,

        (M::GET, ["cron", "preview"]) => schedules::preview(ctx).await,
        (M::GET, ["schedules"]) => schedules::list(ctx).await,
        (M::POST, ["schedules"]) => schedules::post(ctx).await,
        (M::DELETE, ["schedules", id]) => schedules::delete(ctx, id).await,

        (M::GET, ["projects", p, "datasources"]) => datasources::list(ctx, p).await,
        (M::POST, ["projects", p, "datasources"]) => datasources::post(ctx, p).await,
        (M::DELETE, ["projects", p, "datasources", name]) => {
            datasources::delete(ctx, p, name).await
        }

        (M::GET, ["projects", p, "variables"]) => values::get_variables(ctx, p).await,
        (M::PUT, ["projects", p, "variables"]) => values::put_variables(ctx, p).await,
        (M::GET, ["projects", p, "secrets"]) => values::list_secrets(ctx, p).await,
        (M::PUT, ["projects", p, "secrets", name]) => values::put_secret(ctx, p, name).await,
        (M::DELETE, ["projects", p, "secrets", name]) => values::delete_secret(ctx, p, name).await,
        (M::GET, ["projects", p, "hooks"]) => values::list_hooks(ctx, p).await,
        (M::POST, ["projects", p, "workflows", w, "hooks"]) => values::create_hook(ctx, p, w).await,
        (M::DELETE, ["projects", p, "hooks", id]) => values::revoke_hook(ctx, p, id).await,

        (M::GET, ["servers"]) => servers::list(ctx).await,
        (M::GET, ["task-groups"]) => servers::task_groups(ctx).await,
        (M::PUT, ["task-groups", name]) => servers::put_task_group(ctx, name).await,

        (M::GET, ["tenants"]) => tenants::list(ctx).await,
        (M::PUT, ["tenants", name]) => tenants::put(ctx, name).await,
        (M::DELETE, ["tenants", name]) => tenants::delete(ctx, name).await,

        (M::GET, ["tokens"]) => tokens::list(ctx).await,
        (M::POST, ["tokens"]) => tokens::create(ctx).await,
        (M::DELETE, ["tokens", id]) => tokens::revoke(ctx, id).await,

        (M::GET, ["alerts"]) => alerts::list(ctx).await,
        (M::GET, ["audit"]) => audit::list(ctx).await,
        (M::GET, ["alert-groups"]) => alerts::list_groups(ctx).await,
        (M::PUT, ["alert-groups", name]) => alerts::put_group(ctx, name).await,

        _ => Err(ApiError::not_found(format!(
            "no route for {} {}",
            request.method, request.path
        ))),
    }
}

fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not an id")))
}

fn spec_errors(errors: Vec<crate::spec::SpecError>) -> ApiError {
    let message = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    ApiError::unprocessable(message)
}
