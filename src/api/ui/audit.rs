//! The Audit page (admins): the audit trail newest first, filtered by actor, project,
//! action (or its kind) and a time range, paged backwards with `before` like the
//! instance list. The same filter as `GET /api/v1/audit`.

use std::collections::HashMap;

use askama::Template;
use chrono::NaiveDate;

use super::{Ctx, render};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::{self, Nav};
use crate::api::percent_encode;
use crate::api::rest::audit::filter;
use crate::api::rest::query::Query;
use crate::store::audit;

/// Events per page.
const PAGE: i64 = 50;

/// The filter as typed in the form (shown back as it was).
pub struct AuditFilter {
    pub actor: String,
    pub project: String,
    pub action: String,
    pub from: String,
    pub to: String,
}

pub struct AuditLine {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub project: String,
    pub target: String,
    /// The detail as compact JSON (escaped by the template like every value).
    pub detail: String,
}

#[derive(Template)]
#[template(path = "pages/audit.html")]
pub struct AuditPage {
    pub nav: Nav,
    pub filter: AuditFilter,
    pub events: Vec<AuditLine>,
    /// `?…` of the next (older) page, when there is one.
    pub older: Option<String>,
    /// `?…` of the newest page with the same filter (shown when not on it).
    pub newest: Option<String>,
}

/// A form time: a day (`YYYY-MM-DD`, what the date input sends; `to` takes in the whole
/// day) or an RFC 3339 time, passed on as RFC 3339.
fn time_bound(text: &str, end_of_day: bool) -> String {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => {
            let day = if end_of_day {
                day.succ_opt().unwrap_or(day)
            } else {
                day
            };
            format!("{}T00:00:00Z", day.format("%Y-%m-%d"))
        }
        // Not a day: the shared filter says what is wrong with it.
        Err(_) => text.to_string(),
    }
}

pub(super) async fn page(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    ctx.who.require_admin()?;
    let q = ctx.request.query_map();
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let form = AuditFilter {
        actor: get("actor"),
        project: get("project"),
        action: get("action"),
        from: get("from"),
        to: get("to"),
    };
    let mut wanted: HashMap<String, String> = HashMap::new();
    for (key, value) in [
        ("actor", form.actor.clone()),
        ("project", form.project.clone()),
        ("action", form.action.clone()),
        ("from", time_bound(&form.from, false)),
        ("to", time_bound(&form.to, true)),
        ("before", get("before")),
    ] {
        if !value.is_empty() {
            wanted.insert(key.to_string(), value);
        }
    }
    // One more than a page tells whether there is an older page.
    wanted.insert("limit".into(), (PAGE + 1).to_string());
    let wanted = filter(&Query::from_map(wanted))?;
    let client = ctx.client().await?;
    let mut events = audit::list(&client, &wanted).await?;
    drop(client);
    let more = events.len() as i64 > PAGE;
    events.truncate(PAGE as usize);
    let query = |before: Option<i64>| {
        let mut parts: Vec<String> = [
            ("actor", &form.actor),
            ("project", &form.project),
            ("action", &form.action),
            ("from", &form.from),
            ("to", &form.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    };
    let page = AuditPage {
        nav: ctx.nav("audit"),
        older: more.then(|| query(events.last().map(|e| e.id))),
        newest: wanted.before.map(|_| query(None)),
        events: events
            .into_iter()
            .map(|e| AuditLine {
                id: e.id,
                at: pages::time(Some(e.at)),
                actor: e.actor,
                action: e.action,
                project: e.project.unwrap_or_default(),
                target: e.target.unwrap_or_default(),
                detail: if e.detail == serde_json::json!({}) {
                    String::new()
                } else {
                    e.detail.to_string()
                },
            })
            .collect(),
        filter: form,
    };
    render(&page)
}
