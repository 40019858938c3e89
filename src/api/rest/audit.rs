//! `GET /api/v1/audit`: the audit trail, for admins.

use chrono::{DateTime, Utc};

use super::query::Query;
use super::{Answer, Ctx, ok};
use crate::api::error::ApiError;
use crate::store::audit;

/// The filter of `/api/v1/audit` and of the Audit page: `actor` (a part of it), `project`,
/// `action` (or its kind: `command`, `login`, `workflow`...), `from`/`to` (RFC 3339),
/// `before`/`limit` paging.
pub fn filter(q: &Query) -> Result<audit::Filter, ApiError> {
    let page = q.paging()?;
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        q.get(key)
            .filter(|t| !t.is_empty())
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::bad_request(format!("{key} must be an RFC 3339 time, not {t:?}"))
                    })
            })
            .transpose()
    };
    let text = |key: &str| q.get(key).filter(|t| !t.is_empty()).map(String::from);
    Ok(audit::Filter {
        actor: text("actor"),
        project: text("project"),
        action: text("action"),
        from: time("from")?,
        to: time("to")?,
        before: page.before,
        limit: page.limit,
    })
}

pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    ctx.who.require_admin()?;
    let filter = filter(&Query::of(ctx.request))?;
    let events = audit::list(&ctx.client, &filter).await?;
    ok(serde_json::json!({ "events": events }))
}
