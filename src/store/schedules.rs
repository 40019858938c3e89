//! Cron schedules: the rows YAML declares, and the leader's firing of them.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;

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
        let Some(s) = &spec.schedule else {
            return Ok(None);
        };
        let tz: chrono_tz::Tz = s
            .timezone
            .parse()
            .map_err(|_| format!("unknown time zone {:?}", s.timezone))?;
        crate::cron::Schedule::new(&s.cron, &s.timezone).map_err(|e| e.to_string())?;
        let bound = |text: &Option<String>| -> Result<Option<DateTime<Utc>>, String> {
            text.as_deref().map(|t| parse_bound(t, tz)).transpose()
        };
        Ok(Some(YamlSchedule {
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            start_at: bound(&s.start)?,
            end_at: bound(&s.end)?,
            misfire: s.misfire.as_str().to_string(),
            enabled: s.enabled,
        }))
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
    client: &impl GenericClient,
    project_id: i64,
    workflow_code: i64,
    schedule: Option<&YamlSchedule>,
) -> Result<()> {
    crate::metrics::query();
    match schedule {
        None => {
            client
                .execute(
                    include_str!("../../sql/queries/schedules/delete_yaml.sql"),
                    &[&workflow_code],
                )
                .await?;
        }
        Some(s) => {
            client
                .execute(
                    include_str!("../../sql/queries/schedules/upsert_yaml.sql"),
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

pub async fn due(client: &impl GenericClient, limit: i64) -> Result<Vec<DueSchedule>> {
    crate::metrics::query();
    let stmt = client
        .prepare_cached(include_str!("../../sql/queries/schedules/due.sql"))
        .await?;
    let rows = client.query(&stmt, &[&limit]).await?;
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

/// Record a fire; false when it was recorded already (it must not start a second instance).
pub async fn record_fire(
    client: &impl GenericClient,
    schedule_id: i64,
    fire_time: DateTime<Utc>,
    instance_id: i64,
) -> Result<bool> {
    crate::metrics::query();
    Ok(client
        .query_opt(
            include_str!("../../sql/queries/schedules/record_fire.sql"),
            &[&schedule_id, &fire_time, &instance_id],
        )
        .await?
        .is_some())
}

pub async fn advance(
    client: &impl GenericClient,
    schedule_id: i64,
    last_fire_at: Option<DateTime<Utc>>,
    next_fire_at: Option<DateTime<Utc>>,
) -> Result<()> {
    crate::metrics::query();
    client
        .execute(
            include_str!("../../sql/queries/schedules/advance.sql"),
            &[&schedule_id, &last_fire_at, &next_fire_at],
        )
        .await?;
    Ok(())
}

/// Milliseconds until the next enabled schedule is due (negative: overdue), if any.
pub async fn next_due_ms(client: &impl GenericClient) -> Result<Option<f64>> {
    crate::metrics::query();
    let row = client
        .query_one(
            include_str!("../../sql/queries/schedules/next_due_ms.sql"),
            &[],
        )
        .await?;
    Ok(row.try_get::<_, Option<f64>>(0)?)
}

/// Allocate a workflow instance id (the fire is recorded before its command exists).
pub async fn allocate_instance_id(client: &impl GenericClient) -> Result<i64> {
    crate::metrics::query();
    Ok(client
        .query_one("select nextval('pgdag.workflow_instance_id_seq')", &[])
        .await?
        .get(0))
}

/// Switch the schedules of `project/workflow` on or off; returns (id, cron, timezone) of
/// each. Switching on restarts a schedule from now (no catch-up for the time it was off).
pub async fn set_enabled(
    client: &impl GenericClient,
    project: &str,
    workflow: &str,
    enabled: bool,
) -> Result<Vec<(i64, String, String)>> {
    crate::metrics::query();
    let rows = client
        .query(
            include_str!("../../sql/queries/schedules/set_enabled.sql"),
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

pub async fn list(client: &impl GenericClient, project: Option<&str>) -> Result<Vec<ScheduleRow>> {
    crate::metrics::query();
    let rows = client
        .query(
            include_str!("../../sql/queries/schedules/list.sql"),
            &[&project],
        )
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
