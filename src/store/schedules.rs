//! Cron schedules: the rows YAML declares, and the leader's firing of them.

use super::Now;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{Conn, query};
use super::{Result, StoreError};

/// A schedule as declared by a workflow's YAML, with its next fire time computed.
#[derive(Debug, Clone)]
pub struct YamlSchedule {
    pub cron: String,
    pub timezone: String,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub misfire: String,
    pub enabled: bool,
}

impl YamlSchedule {
    /// The schedule a workflow declares, checked: a valid cron expression and time zone,
    /// a validity window that parses. `Err` says what is wrong.
    pub fn from_spec(spec: &crate::spec::WorkflowSpec) -> Result<Option<YamlSchedule>, String> {
        spec.schedule.as_ref().map(Self::from_schedule).transpose()
    }

    /// A schedule as written (in a workflow or a `kind: schedule` document), checked.
    pub fn from_schedule(s: &crate::spec::ScheduleSpec) -> Result<YamlSchedule, String> {
        let tz: chrono_tz::Tz = s
            .timezone
            .parse()
            .map_err(|_| format!("unknown time zone {:?}", s.timezone))?;
        crate::cron::Schedule::new(&s.cron, &s.timezone).map_err(|e| e.to_string())?;
        let bound = |text: &Option<String>| -> Result<Option<DateTime<Utc>>, String> {
            text.as_deref().map(|t| parse_bound(t, tz)).transpose()
        };
        Ok(YamlSchedule {
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            start_at: bound(&s.start)?,
            end_at: bound(&s.end)?,
            misfire: s.misfire.as_str().to_string(),
            enabled: s.enabled,
        })
    }
}

/// A validity bound: `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM:SS` (a space may replace
/// the `T`) local to the schedule's zone, or RFC 3339 with an offset.
pub fn parse_bound(text: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(&text.replace(' ', "T"), "%Y-%m-%dT%H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            format!("{text:?} is not a date (YYYY-MM-DD), a local date-time or RFC 3339")
        })?;
    crate::cron::resolve_local(&tz, local).ok_or_else(|| format!("{text:?} does not exist in {tz}"))
}

/// Replace (or remove, with `None`) the YAML schedule of a workflow.
pub async fn set_yaml(
    client: &impl Conn,
    project_id: i64,
    workflow_code: i64,
    schedule: Option<&YamlSchedule>,
) -> Result<()> {
    match schedule {
        None => {
            client
                .exec(query!("schedules/delete_yaml"), &[&workflow_code])
                .await?;
        }
        Some(s) => {
            client
                .exec(
                    query!("schedules/upsert_yaml"),
                    &[
                        &project_id,
                        &workflow_code,
                        &s.cron,
                        &s.timezone,
                        &s.start_at,
                        &s.end_at,
                        &s.misfire,
                        &s.enabled,
                    ],
                )
                .await?;
        }
    }
    Ok(())
}

/// A schedule due now, locked for this transaction.
#[derive(Debug, Clone)]
pub struct DueSchedule {
    pub id: i64,
    pub cron: String,
    pub timezone: String,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub misfire: String,
    pub last_fire_at: Option<DateTime<Utc>>,
    /// When the schedule was (re)defined or switched on: no fire before it.
    pub updated_at: DateTime<Utc>,
    pub project: String,
    pub workflow: String,
    pub online: bool,
    pub db_now: DateTime<Utc>,
}

pub async fn due(client: &impl Conn, limit: i64, now: Now) -> Result<Vec<DueSchedule>> {
    let rows = client
        .fetch(query!("schedules/due"), &[&limit, &now])
        .await?;
    Ok(rows
        .iter()
        .map(|r| DueSchedule {
            id: r.get("id"),
            cron: r.get("cron"),
            timezone: r.get("timezone"),
            start_at: r.get("start_at"),
            end_at: r.get("end_at"),
            misfire: r.get("misfire"),
            last_fire_at: r.get("last_fire_at"),
            updated_at: r.get("updated_at"),
            project: r.get("project"),
            workflow: r.get("workflow"),
            online: r.get::<_, String>("release") == "online",
            db_now: r.get("db_now"),
        })
        .collect())
}

/// Milliseconds until the next enabled schedule is due (negative: overdue), if any.
pub async fn next_due_ms(client: &impl Conn, now: Now) -> Result<Option<f64>> {
    let row = client
        .fetch_one(query!("schedules/next_due_ms"), &[&now])
        .await?;
    Ok(row.try_get::<_, Option<f64>>(0)?)
}

/// Switch the schedules of `project/workflow` on or off; returns (id, cron, timezone) of
/// each. Switching on restarts a schedule from now (no catch-up for the time it was off).
pub async fn set_enabled(
    client: &impl Conn,
    project: &str,
    workflow: &str,
    enabled: bool,
) -> Result<Vec<(i64, String, String)>> {
    let rows = client
        .fetch(
            query!("schedules/set_enabled"),
            &[&project, &workflow, &enabled],
        )
        .await?;
    if rows.is_empty() {
        return Err(StoreError::NotFound(format!(
            "workflow {project}/{workflow} has no schedule"
        )));
    }
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Switch one schedule on or off (on restarts it from now); false when there is none.
pub async fn set_enabled_by_id(client: &impl Conn, id: i64, enabled: bool) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("schedules/set_enabled_by_id"), &[&id, &enabled])
        .await?
        .is_some())
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRow {
    pub id: i64,
    pub project: String,
    pub workflow: String,
    pub source: String,
    pub cron: String,
    pub timezone: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub misfire: String,
    pub enabled: bool,
    pub online: bool,
    pub last_fire_at: Option<DateTime<Utc>>,
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// Schedules of one project or of all, limited to what `viewer` (a user id; `None` for an
/// admin) may read.
pub async fn list(
    client: &impl Conn,
    project: Option<&str>,
    viewer: Option<i64>,
) -> Result<Vec<ScheduleRow>> {
    let rows = client
        .fetch(query!("schedules/list"), &[&project, &viewer])
        .await?;
    Ok(rows
        .iter()
        .map(|r| ScheduleRow {
            id: r.get("id"),
            project: r.get("project"),
            workflow: r.get("workflow"),
            source: r.get("source"),
            cron: r.get("cron"),
            timezone: r.get("timezone"),
            start: r.get("start_at"),
            end: r.get("end_at"),
            misfire: r.get("misfire"),
            enabled: r.get("enabled"),
            online: r.get::<_, String>("release") == "online",
            last_fire_at: r.get("last_fire_at"),
            next_fire_at: r.get("next_fire_at"),
        })
        .collect())
}

/// Add a schedule through the API; returns its id.
pub async fn insert_api(
    client: &impl Conn,
    project_id: i64,
    workflow_code: i64,
    schedule: &YamlSchedule,
    now: Now,
) -> Result<i64> {
    Ok(client
        .fetch_one(
            query!("schedules/insert_api"),
            &[
                &project_id,
                &workflow_code,
                &schedule.cron,
                &schedule.timezone,
                &schedule.start_at,
                &schedule.end_at,
                &schedule.misfire,
                &schedule.enabled,
                &now,
            ],
        )
        .await?
        .get(0))
}

/// The API-added schedule of `workflow_code` that is `schedule` (all but its on/off
/// state): its id and whether it is on.
pub async fn find_api(
    client: &impl Conn,
    workflow_code: i64,
    schedule: &YamlSchedule,
) -> Result<Option<(i64, bool)>> {
    Ok(client
        .fetch_opt(
            query!("schedules/find_api"),
            &[
                &workflow_code,
                &schedule.cron,
                &schedule.timezone,
                &schedule.start_at,
                &schedule.end_at,
                &schedule.misfire,
            ],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Remove a schedule added through the API (YAML schedules go with their YAML).
pub async fn delete_api(client: &impl Conn, id: i64) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("schedules/delete_api"), &[&id])
        .await?
        .is_some())
}

/// One fire of a round: (schedule id, fire time, project, workflow).
pub type Fire = (i64, DateTime<Utc>, String, String);

/// Record fires and insert their `schedule` commands in one statement; returns how many
/// were new (a fire recorded before starts nothing).
pub async fn fire_batch(client: &impl Conn, fires: &[Fire]) -> Result<usize> {
    if fires.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = fires.iter().map(|f| f.0).collect();
    let times: Vec<DateTime<Utc>> = fires.iter().map(|f| f.1).collect();
    let projects: Vec<&str> = fires.iter().map(|f| f.2.as_str()).collect();
    let workflows: Vec<&str> = fires.iter().map(|f| f.3.as_str()).collect();
    Ok(client
        .fetch(
            query!("schedules/fire_batch"),
            &[&ids, &times, &projects, &workflows],
        )
        .await?
        .len())
}

/// One schedule's new (last fire, next fire); `parked` marks an invalid schedule.
pub type Advance = (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>, bool);

pub async fn advance_batch(client: &impl Conn, advances: &[Advance]) -> Result<()> {
    if advances.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = advances.iter().map(|a| a.0).collect();
    let last: Vec<Option<DateTime<Utc>>> = advances.iter().map(|a| a.1).collect();
    let next: Vec<Option<DateTime<Utc>>> = advances.iter().map(|a| a.2).collect();
    let parked: Vec<bool> = advances.iter().map(|a| a.3).collect();
    client
        .exec(
            query!("schedules/advance_batch"),
            &[&ids, &last, &next, &parked],
        )
        .await?;
    Ok(())
}
