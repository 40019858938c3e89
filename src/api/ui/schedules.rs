//! Schedules: the list with on/off switches, and a cron builder whose preview shows the next
//! fire times in the chosen zone — from the same engine that fires them.

use super::{Ctx, parse_id, redirect, render, workflow_href};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::{self, CronBuilder, CronPreview, ScheduleLine, SchedulesPage};
use crate::store::audited::ScheduleChange;
use crate::store::members::{Access, Owned};
use crate::store::{definitions, schedules};

/// Fire times the preview shows.
const PREVIEW_COUNT: usize = 10;

/// The builder's fields from a query string or form; the expression is the typed one, or
/// the fields joined (Quartz order, seconds first) when none is typed.
fn builder(fields: &std::collections::HashMap<String, String>) -> CronBuilder {
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut b = CronBuilder {
        target: get("target"),
        expr: get("expr"),
        second: get("second"),
        minute: get("minute"),
        hour: get("hour"),
        day: get("day"),
        month: get("month"),
        weekday: get("weekday"),
        timezone: get("tz"),
        preview: CronPreview::default(),
    };
    let typed_fields = [&b.second, &b.minute, &b.hour, &b.day, &b.month, &b.weekday]
        .iter()
        .any(|f| !f.is_empty());
    if b.expr.is_empty() && typed_fields {
        b.expr = expression_of_fields(&b);
    }
    if b.timezone.is_empty() {
        b.timezone = "UTC".into();
    }
    b
}

/// Quartz needs `?` in one of the two day fields when the other is restricted.
fn expression_of_fields(b: &CronBuilder) -> String {
    let or = |v: &str, d: &str| {
        if v.is_empty() {
            d.to_string()
        } else {
            v.to_string()
        }
    };
    let weekday = or(&b.weekday, "*");
    let day = if b.day.is_empty() {
        if weekday == "*" {
            "*".into()
        } else {
            "?".into()
        }
    } else {
        b.day.clone()
    };
    let weekday = if !b.day.is_empty() && b.weekday.is_empty() {
        "?".to_string()
    } else {
        weekday
    };
    format!(
        "{} {} {} {} {} {}",
        or(&b.second, "0"),
        or(&b.minute, "0"),
        or(&b.hour, "*"),
        day,
        or(&b.month, "*"),
        weekday
    )
}

fn preview_of(b: &CronBuilder) -> CronPreview {
    if b.expr.is_empty() {
        return CronPreview {
            timezone: b.timezone.clone(),
            ..Default::default()
        };
    }
    match crate::cron::preview(&b.expr, &b.timezone, None, PREVIEW_COUNT) {
        Ok(times) => CronPreview {
            expr: b.expr.clone(),
            timezone: b.timezone.clone(),
            times,
            error: None,
        },
        Err(e) => CronPreview {
            expr: b.expr.clone(),
            timezone: b.timezone.clone(),
            times: Vec::new(),
            error: Some(e),
        },
    }
}

async fn schedules_page(
    ctx: &Ctx<'_>,
    mut builder: CronBuilder,
    error: Option<String>,
) -> Result<SchedulesPage, ApiError> {
    let client = ctx.client().await?;
    let list = schedules::list(&client, None, ctx.who.viewer()).await?;
    let mut lines = Vec::with_capacity(list.len());
    let mut writable = std::collections::HashMap::new();
    for s in list {
        let can_write = match writable.get(&s.project) {
            Some(w) => *w,
            None => {
                let w = ctx.who.can_write(&client, &s.project).await?;
                writable.insert(s.project.clone(), w);
                w
            }
        };
        lines.push(ScheduleLine {
            id: s.id,
            workflow_href: workflow_href(&s.project, &s.workflow),
            project: s.project,
            workflow: s.workflow,
            source: s.source,
            cron: s.cron,
            timezone: s.timezone,
            enabled: s.enabled,
            online: s.online,
            next_fire: if s.enabled {
                pages::time(s.next_fire_at)
            } else {
                String::new()
            },
            last_fire: pages::time(s.last_fire_at),
            can_write,
        });
    }
    // Workflows a schedule can be added to: those of projects the user may write.
    let mut workflows = Vec::new();
    for p in definitions::list_projects(&client, ctx.who.viewer()).await? {
        if ctx.who.can_write(&client, &p.name).await? {
            for w in definitions::list_workflows(&client, &p.name).await? {
                workflows.push(format!("{}/{}", p.name, w.name));
            }
        }
    }
    builder.preview = preview_of(&builder);
    Ok(SchedulesPage {
        nav: ctx.nav("schedules"),
        schedules: lines,
        builder,
        workflows,
        error,
    })
}

pub(super) async fn page(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let b = builder(&ctx.request.query_map());
    render(&schedules_page(ctx, b, None).await?)
}

/// The preview fragment the builder's fields ask for as they change (htmx).
pub(super) async fn preview(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let b = builder(&ctx.request.query_map());
    render(&preview_of(&b))
}

/// Add the builder's expression as an (API) schedule of the chosen workflow.
pub(super) async fn create(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let b = builder(&ctx.request.form());
    let Some((project, workflow)) = b.target.split_once('/') else {
        let page = schedules_page(ctx, b, Some("choose a workflow".into())).await?;
        return unprocessable(page);
    };
    let (project, workflow) = (project.to_string(), workflow.to_string());
    let client = ctx.client().await?;
    ctx.who
        .require_project(&client, &project, Access::Write)
        .await?;
    if let Err(e) = crate::cron::Schedule::new(&b.expr, &b.timezone) {
        drop(client);
        let page = schedules_page(ctx, b, Some(e.to_string())).await?;
        return unprocessable(page);
    }
    let current = definitions::find_workflow(&client, &project, &workflow)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
        })?;
    let schedule = schedules::YamlSchedule {
        cron: b.expr.clone(),
        timezone: b.timezone.clone(),
        start_at: None,
        end_at: None,
        misfire: "fire_once".into(),
        enabled: true,
    };
    let mut client = client;
    crate::store::audited::schedule_add(
        &mut client,
        &ctx.who.actor(),
        &current,
        &project,
        &workflow,
        &schedule,
        ctx.now,
    )
    .await?;
    Ok(redirect("/schedules"))
}

fn unprocessable(page: SchedulesPage) -> Result<Reply, ApiError> {
    let mut reply = render(&page)?;
    *reply.status_mut() = warp::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(reply)
}

/// `on`, `off` or `delete` (API schedules only: a YAML schedule changes with its YAML).
pub(super) async fn change(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<Reply, ApiError> {
    let id = parse_id(id)?;
    let mut client = ctx.client().await?;
    ctx.who
        .require_owner(&client, Owned::Schedule(id), Access::Write)
        .await?;
    let change = match action {
        "on" => ScheduleChange::On,
        "off" => ScheduleChange::Off,
        "delete" => ScheduleChange::Delete,
        other => {
            return Err(ApiError::not_found(format!(
                "no schedule action {other} (on, off, delete)"
            )));
        }
    };
    let done =
        crate::store::audited::schedule_change(&mut client, &ctx.who.actor(), id, change).await?;
    if !done {
        return Err(ApiError::not_found(format!(
            "schedule {id} does not exist{}",
            if action == "delete" {
                " or comes from YAML (change the YAML instead)"
            } else {
                ""
            }
        )));
    }
    Ok(redirect("/schedules"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_make_a_quartz_expression() {
        assert_eq!(builder(&fields(&[("hour", "2")])).expr, "0 0 2 * * *");
        assert_eq!(
            builder(&fields(&[("hour", "2"), ("weekday", "MON-FRI")])).expr,
            "0 0 2 ? * MON-FRI"
        );
        assert_eq!(
            builder(&fields(&[("minute", "30"), ("day", "L")])).expr,
            "0 30 * L * ?"
        );
        // A typed expression wins over the fields.
        let b = builder(&fields(&[("expr", "*/5 * * * *"), ("hour", "3")]));
        assert_eq!(b.expr, "*/5 * * * *");
        assert_eq!(b.timezone, "UTC");
    }

    #[test]
    fn the_preview_shows_ten_times_or_the_reason() {
        let b = builder(&fields(&[
            ("expr", "0 0 2 ? * MON-FRI"),
            ("tz", "Europe/Berlin"),
        ]));
        let p = preview_of(&b);
        assert_eq!(p.times.len(), PREVIEW_COUNT, "{:?}", p.error);
        assert!(
            p.times.iter().all(|t| t.contains("T02:00:00+0")),
            "{:?}",
            p.times
        );
        let bad = builder(&fields(&[("expr", "0 0 25 * * ?")]));
        assert!(preview_of(&bad).error.unwrap().contains("hour"));
        assert!(preview_of(&builder(&fields(&[]))).times.is_empty());
    }
}
