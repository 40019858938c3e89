//! Backfills: the row that plans them and the gating of their instances.

use chrono::{DateTime, Utc};

use super::db::{Conn, query};
use super::{Result, StoreError, commands};
use crate::cron::backfill::Request;
use crate::model::CommandType;

#[derive(Debug, Clone)]
pub struct NewBackfill<'a> {
    pub project_id: i64,
    pub workflow_code: i64,
    pub project: &'a str,
    pub workflow: &'a str,
    pub serial: bool,
    /// How many dates may run at once (1 in serial mode).
    pub parallelism: i32,
    pub descending: bool,
    pub stop_on_failure: bool,
    pub params: serde_json::Value,
    /// Schedule times in run order.
    pub times: Vec<DateTime<Utc>>,
    /// Command options every date's start carries (execution overrides).
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// Insert the backfill and one start command per date, in run order; returns the backfill
/// id and the instance ids (allocated now, so they are known before any instance exists).
pub async fn create(
    client: &impl Conn,
    actor: &str,
    b: &NewBackfill<'_>,
) -> Result<(i64, Vec<i64>)> {
    let dates = serde_json::to_value(&b.times).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mode = if b.serial { "serial" } else { "parallel" };
    let order = if b.descending { "desc" } else { "asc" };
    let id: i64 = client
        .fetch_one(
            query!("backfill/insert"),
            &[
                &b.project_id,
                &b.workflow_code,
                &mode,
                &b.parallelism,
                &order,
                &b.stop_on_failure,
                &dates,
            ],
        )
        .await?
        .get(0);
    let mut instance_ids = Vec::with_capacity(b.times.len());
    for time in &b.times {
        let mut options = b.options.clone();
        options.insert("schedule_time".into(), time.to_rfc3339().into());
        options.insert("backfill_id".into(), id.into());
        let (_, instance) = commands::insert(
            client,
            actor,
            CommandType::Start,
            Some(b.project),
            Some(b.workflow),
            &b.params,
            &serde_json::Value::Object(options),
            None,
        )
        .await?;
        instance_ids.push(instance);
    }
    Ok((id, instance_ids))
}

#[derive(Debug, Clone)]
pub struct Locked {
    pub id: i64,
    pub state: String,
    pub parallelism: i64,
    pub stop_on_failure: bool,
}

pub async fn lock(client: &impl Conn, id: i64) -> Result<Locked> {
    let row = client
        .fetch_opt(query!("backfill/lock"), &[&id])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("backfill {id} does not exist")))?;
    Ok(Locked {
        id: row.get("id"),
        state: row.get("state"),
        parallelism: row.get::<_, i32>("parallelism") as i64,
        stop_on_failure: row.get("stop_on_failure"),
    })
}

pub async fn running_count(client: &impl Conn, id: i64) -> Result<i64> {
    Ok(client
        .fetch_one(query!("backfill/running_count"), &[&id])
        .await?
        .get(0))
}

pub async fn next_waiting(client: &impl Conn, id: i64) -> Result<Option<i64>> {
    Ok(client
        .fetch_opt(query!("backfill/next_waiting"), &[&id])
        .await?
        .map(|r| r.get(0)))
}

/// (instances not final yet, failed, stopped) among the backfill's instances.
pub async fn summary(client: &impl Conn, id: i64) -> Result<(i64, i64, i64)> {
    let row = client.fetch_one(query!("backfill/summary"), &[&id]).await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

pub async fn stop_waiting(client: &impl Conn, id: i64, reason: &str) -> Result<u64> {
    client
        .exec(query!("backfill/stop_waiting"), &[&id, &reason])
        .await
}

pub async fn set_state(client: &impl Conn, id: i64, state: &str) -> Result<bool> {
    Ok(client
        .exec(query!("backfill/set_state"), &[&id, &state])
        .await?
        == 1)
}

pub async fn active_instances(client: &impl Conn, id: i64) -> Result<Vec<i64>> {
    Ok(client
        .fetch(query!("backfill/active_instances"), &[&id])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// A backfill with its instances (`GET /api/v1/backfills/{id}`).
pub async fn get(client: &impl Conn, id: i64) -> Result<Option<serde_json::Value>> {
    let Some(r) = client.fetch_opt(query!("backfill/get"), &[&id]).await? else {
        return Ok(None);
    };
    Ok(Some(serde_json::json!({
        "id": r.get::<_, i64>("id"),
        "project": r.get::<_, String>("project"),
        "workflow": r.get::<_, String>("workflow"),
        "mode": r.get::<_, String>("mode"),
        "parallelism": r.get::<_, i32>("parallelism"),
        "order": r.get::<_, String>("run_order"),
        "stop_on_failure": r.get::<_, bool>("stop_on_failure"),
        "state": r.get::<_, String>("state"),
        "dates": r.get::<_, serde_json::Value>("dates"),
        "created_at": r.get::<_, DateTime<Utc>>("created_at"),
        "ended_at": r.get::<_, Option<DateTime<Utc>>>("ended_at"),
        "instances": r.get::<_, serde_json::Value>("instances"),
    })))
}

/// Plan a backfill of `project/workflow` (its schedule's fire times on those days, or
/// midnight UTC without one; see [`crate::cron::backfill::plan`]) and create it; returns
/// (backfill id, instance ids in run order).
pub async fn start(
    client: &impl Conn,
    actor: &str,
    project: &str,
    workflow: &str,
    request: &Request,
) -> Result<(i64, Vec<i64>)> {
    request.check().map_err(StoreError::Invalid)?;
    let current = super::definitions::find_workflow(client, project, workflow)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("workflow {project}/{workflow} does not exist"))
        })?;
    if current.release == crate::model::Release::Offline {
        return Err(StoreError::Invalid(format!(
            "workflow {project}/{workflow} is offline: new runs are refused until it is put back online (pgdag workflow online {project}/{workflow})"
        )));
    }
    let (spec, _) = super::definitions::get_spec(client, project, workflow, None)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("workflow {project}/{workflow} does not exist"))
        })?;
    let plan = crate::cron::backfill::plan(spec.schedule.as_ref(), request)
        .map_err(StoreError::Invalid)?;
    create(
        client,
        actor,
        &NewBackfill {
            project_id: current.project_id,
            workflow_code: current.code,
            project,
            workflow,
            serial: request.serial,
            parallelism: plan.parallelism,
            descending: request.descending,
            stop_on_failure: request.stop_on_failure,
            params: request.params.clone(),
            times: plan.times,
            options: request.options.clone(),
        },
    )
    .await
}

/// Cancel: dates not started yet end `stopped`, running ones get a stop command.
pub async fn cancel(client: &impl Conn, actor: &str, id: i64) -> Result<()> {
    let backfill = lock(client, id).await?;
    if backfill.state != "running" {
        return Err(StoreError::Invalid(format!(
            "backfill {id} is {}, not running",
            backfill.state
        )));
    }
    set_state(client, id, "cancelled").await?;
    // The stops below are audited as commands; the cancel itself is one row whether or
    // not a date was running.
    let project = super::members::project_of(client, super::members::Owned::Backfill(id)).await?;
    super::audit::record(
        client,
        actor,
        "backfill.cancel",
        project.as_deref(),
        Some(&format!("backfill {id}")),
        serde_json::json!({ "backfill_id": id }),
    )
    .await?;
    stop_waiting(client, id, "stopped: the backfill was cancelled").await?;
    for instance in active_instances(client, id).await? {
        commands::insert(
            client,
            actor,
            CommandType::Stop,
            None,
            None,
            &serde_json::json!({}),
            &serde_json::json!({}),
            Some(instance),
        )
        .await?;
    }
    Ok(())
}
