//! REST handlers for alerts and alert groups: `GET /api/v1/alerts` (with the delivery state
//! of every channel), `GET /api/v1/alert-groups`, `PUT /api/v1/alert-groups/{name}`.
//! Nothing here ever answers a password, a webhook URL's path or a header value.

use serde_json::{Value, json};
use warp::http::StatusCode;

use super::query::Query;
use super::{Answer, Ctx};
use crate::alert::channel;
use crate::alert::message::{self, AlertView};
use crate::api::error::ApiError;
use crate::store::alerts::{self, AlertFilter, GroupRecord};

const ALERT_STATES: &[&str] = &["pending", "sent", "failed", "skipped"];

/// `GET /api/v1/alerts?state=&kind=&instance=&before=&limit=`: newest first.
pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    let q = Query::of(ctx.request);
    let page = q.paging()?;
    if let Some(state) = q.get("state")
        && !ALERT_STATES.contains(&state)
    {
        return Err(ApiError::bad_request(format!(
            "state {state:?} is not one of: {}",
            ALERT_STATES.join(", ")
        )));
    }
    let filter = AlertFilter {
        state: q.get("state").map(Into::into),
        kind: q.get("kind").map(Into::into),
        instance: q.id("instance")?,
        before_id: page.before,
        limit: page.limit,
        viewer: ctx.who.viewer(),
    };
    let rows = alerts::list(&ctx.client, &filter).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|a| {
            let subject = message::subject(&AlertView {
                id: a.id,
                kind: &a.kind,
                group: a.group.as_deref().unwrap_or(""),
                payload: &a.payload,
                workflow_instance_id: a.workflow_instance_id,
                task_instance_id: a.task_instance_id,
                created_at: a.created_at,
            });
            let deliveries: Vec<Value> = a
                .deliveries
                .as_array()
                .map(|ds| ds.iter().map(delivery).collect())
                .unwrap_or_default();
            json!({
                "id": a.id,
                "kind": a.kind,
                "state": a.state,
                "subject": subject,
                "group": a.group,
                "workflow_instance_id": a.workflow_instance_id,
                "task_instance_id": a.task_instance_id,
                "error": a.error,
                "created_at": a.created_at,
                "routed_at": a.routed_at,
                "updated_at": a.updated_at,
                "deliveries": deliveries,
            })
        })
        .collect();
    Ok((StatusCode::OK, json!({ "alerts": list })))
}

/// A delivery as the API shows it: the stored channel becomes a one-line target.
fn delivery(d: &Value) -> Value {
    let mut out = d.clone();
    if let Value::Object(map) = &mut out {
        let target = map
            .remove("spec")
            .and_then(|spec| channel::parse_channel(&spec).ok())
            .map(|ch| channel::target(&ch));
        map.insert("target".into(), json!(target));
    }
    out
}

/// `GET /api/v1/alert-groups`.
pub(super) async fn list_groups(ctx: Ctx<'_>) -> Answer {
    let groups = alerts::list_groups(&ctx.client).await?;
    let shown: Vec<Value> = groups.iter().map(group_json).collect();
    Ok((StatusCode::OK, json!({ "alert_groups": shown })))
}

fn group_json(g: &GroupRecord) -> Value {
    let channels: Vec<Value> = g
        .channels
        .as_array()
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match channel::parse_channel(item) {
                    Ok(ch) => channel::redacted(&ch, g.secrets.get(i).is_some_and(|s| s.is_some())),
                    Err(e) => json!({ "error": e }),
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "name": g.name, "channels": channels, "updated_at": g.updated_at })
}

/// `PUT /api/v1/alert-groups/{name}`: the body is the YAML document as JSON (or YAML),
/// `kind` and `name` optional; a `password` is stored encrypted with this process's
/// `PGDAG_SECRET_KEY` and never answered back. 201 when created, 200 when replaced.
pub(super) async fn put_group(ctx: Ctx<'_>, name: &str) -> Answer {
    // Alert groups are shared by every project.
    ctx.who.require_admin()?;
    let actor = ctx.who.actor();
    let body = ctx.request.body.as_slice();
    let mut client = ctx.client;
    if let Some(problem) = crate::spec::name_problem(name) {
        return Err(ApiError::bad_request(format!(
            "alert group name: {problem}"
        )));
    }
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    // `kind` and `name` may be left out of a JSON body.
    let completed = with_kind_and_name(text, name);
    let text = completed.as_deref().unwrap_or(text);
    let checked = crate::apply::check_documents("request", text).map_err(|errors| {
        ApiError::unprocessable(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    if checked.single_kind() != Some("alert_group") {
        return Err(ApiError::unprocessable(
            "the body must hold exactly one document of kind alert_group",
        ));
    }
    let group = &checked.alert_groups[0];
    if group.name != name {
        return Err(ApiError::unprocessable(format!(
            "the body names alert group {}, the path {name}",
            group.name
        )));
    }
    let key = crate::secret::SecretKey::from_env().map_err(ApiError::unprocessable)?;
    let sealed =
        crate::alert::channel::seal(group, key.as_ref()).map_err(ApiError::unprocessable)?;
    let created = crate::store::audited::alert_group_upsert(&mut client, &actor, &sealed).await?;
    let stored = alerts::get_group(&client, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert group {name} does not exist")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, json!({ "alert_group": group_json(&stored) })))
}

/// A JSON object body with `kind: alert_group` and `name` added where missing.
fn with_kind_and_name(text: &str, name: &str) -> Option<String> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    if map.contains_key("kind") && map.contains_key("name") {
        return None;
    }
    map.entry("kind").or_insert_with(|| json!("alert_group"));
    map.entry("name").or_insert_with(|| json!(name));
    Some(Value::Object(map).to_string())
}
