//! Alert groups and the alert outbox: writing alerts in the transaction of their event,
//! routing them to deliveries, claiming deliveries (fenced by a claim token) and recording
//! the answers. Stored SMTP passwords stay encrypted here; nothing in this module decrypts.

use super::Now;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Result;
use super::db::{Conn, query};

/// Bytes of a failed task's log kept in an alert (the message shows its last lines).
pub const LOG_TAIL_BYTES: i32 = 8 * 1024;

/// An alert group as stored: channels without passwords, and the sealed password of each
/// channel that has one (`secrets[i]` belongs to `channels[i]`).
#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub name: String,
    pub channels: serde_json::Value,
    pub secrets: Vec<Option<Vec<u8>>>,
    pub updated_at: DateTime<Utc>,
}

impl GroupRecord {
    fn from_row(r: &tokio_postgres::Row) -> GroupRecord {
        GroupRecord {
            name: r.get(0),
            channels: r.get(1),
            secrets: r.get(2),
            updated_at: r.get(3),
        }
    }
}

/// Creates or replaces the group; true when it was created.
pub async fn upsert_group(
    client: &impl Conn,
    name: &str,
    channels: &serde_json::Value,
    secrets: &[Option<Vec<u8>>],
) -> Result<bool> {
    Ok(client
        .fetch_one(query!("alerts/upsert_group"), &[&name, channels, &secrets])
        .await?
        .get(0))
}

/// The groups of these names that exist, by name.
pub async fn get_groups(client: &impl Conn, names: &[String]) -> Result<Vec<GroupRecord>> {
    Ok(client
        .fetch(query!("alerts/get_groups"), &[&names])
        .await?
        .iter()
        .map(GroupRecord::from_row)
        .collect())
}

pub async fn get_group(client: &impl Conn, name: &str) -> Result<Option<GroupRecord>> {
    Ok(get_groups(client, &[name.to_string()])
        .await?
        .into_iter()
        .next())
}

pub async fn list_groups(client: &impl Conn) -> Result<Vec<GroupRecord>> {
    Ok(client
        .fetch(query!("alerts/list_groups"), &[])
        .await?
        .iter()
        .map(GroupRecord::from_row)
        .collect())
}

/// One stored (encrypted) SMTP password, if any: an alert process checks at start-up that
/// its key opens it.
pub async fn any_stored_password(client: &impl Conn) -> Result<Option<Vec<u8>>> {
    Ok(client
        .fetch_opt(query!("alerts/any_stored_password"), &[])
        .await?
        .map(|r| r.get(0)))
}

/// The alert of an instance that ended, to `group` (the caller decided that the workflow's
/// `notify.when` asks for one). In the transaction that ends the instance.
pub async fn instance_end(client: &impl Conn, instance_id: i64, group: &str) -> Result<()> {
    client
        .exec(
            query!("alerts/instance_end"),
            &[&instance_id, &group, &LOG_TAIL_BYTES],
        )
        .await?;
    Ok(())
}

/// An alert about a task decided on the master (e.g. `dependent_failed`), in the master's
/// transaction.
pub async fn master_task_alert(
    client: &impl Conn,
    task_instance_id: i64,
    kind: &str,
    message: &str,
    details: &str,
) -> Result<()> {
    client
        .exec(
            query!("alerts/task_alert"),
            &[&task_instance_id, &kind, &message, &details],
        )
        .await?;
    Ok(())
}

/// An alert locked for routing.
#[derive(Debug, Clone)]
pub struct Unrouted {
    pub id: i64,
    pub kind: String,
    /// The group the event named, if any.
    pub group: Option<String>,
    /// The notify groups of the workflows the alert is about.
    pub workflow_groups: Vec<String>,
}

/// Lock up to `limit` alerts that are not routed yet (`SKIP LOCKED`).
pub async fn claim_unrouted(client: &impl Conn, limit: i64) -> Result<Vec<Unrouted>> {
    Ok(client
        .fetch(query!("alerts/route_claim"), &[&limit])
        .await?
        .iter()
        .map(|r| Unrouted {
            id: r.get(0),
            kind: r.get(1),
            group: r.get(2),
            workflow_groups: r.get(3),
        })
        .collect())
}

/// A delivery to create when routing.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub alert_id: i64,
    pub group: String,
    pub channel_index: i32,
    pub channel_type: String,
    pub channel: serde_json::Value,
    pub secret: Option<Vec<u8>>,
}

/// How routing ended for one alert.
#[derive(Debug, Clone)]
pub struct Routed {
    pub alert_id: i64,
    /// `pending`, `skipped` or `failed`.
    pub state: &'static str,
    pub error: Option<String>,
}

/// Insert the deliveries and mark the alerts routed (one transaction with the claim).
pub async fn record_routes(
    client: &impl Conn,
    deliveries: &[NewDelivery],
    routed: &[Routed],
) -> Result<()> {
    if !deliveries.is_empty() {
        let alert_ids: Vec<i64> = deliveries.iter().map(|d| d.alert_id).collect();
        let groups: Vec<&str> = deliveries.iter().map(|d| d.group.as_str()).collect();
        let indexes: Vec<i32> = deliveries.iter().map(|d| d.channel_index).collect();
        let types: Vec<&str> = deliveries.iter().map(|d| d.channel_type.as_str()).collect();
        let channels: Vec<&serde_json::Value> = deliveries.iter().map(|d| &d.channel).collect();
        let secrets: Vec<Option<&[u8]>> = deliveries.iter().map(|d| d.secret.as_deref()).collect();
        client
            .exec(
                query!("alerts/insert_deliveries"),
                &[&alert_ids, &groups, &indexes, &types, &channels, &secrets],
            )
            .await?;
    }
    if !routed.is_empty() {
        let ids: Vec<i64> = routed.iter().map(|r| r.alert_id).collect();
        let states: Vec<&str> = routed.iter().map(|r| r.state).collect();
        let errors: Vec<Option<&str>> = routed.iter().map(|r| r.error.as_deref()).collect();
        client
            .exec(query!("alerts/mark_routed"), &[&ids, &states, &errors])
            .await?;
    }
    Ok(())
}

/// Fail the deliveries that are due with no attempt left (`max_attempts` used); returns
/// how many, after updating their alerts' states.
pub async fn give_up(
    client: &mut deadpool_postgres::Object,
    max_attempts: i32,
    now: Option<DateTime<Utc>>,
) -> Result<usize> {
    let tx = client.transaction().await?;
    let alert_ids: Vec<i64> = tx
        .fetch(query!("alerts/give_up"), &[&max_attempts, &now])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !alert_ids.is_empty() {
        refresh_states(&tx, &alert_ids).await?;
    }
    tx.commit().await?;
    Ok(alert_ids.len())
}

/// A claimed delivery with what its message is made of.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub alert_id: i64,
    pub group: String,
    pub channel_index: i32,
    pub channel: serde_json::Value,
    pub secret: Option<Vec<u8>>,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub claim_token: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub workflow_instance_id: Option<i64>,
    pub task_instance_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// Claim up to `limit` due deliveries that have attempts left. The claim is a lease of
/// `lease_ms`: after it a delivery without a result is due again.
pub async fn claim_deliveries(
    client: &impl Conn,
    limit: i64,
    max_attempts: i32,
    server_id: i64,
    lease_ms: i64,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<ClaimedDelivery>> {
    let rows = client
        .fetch(
            query!("alerts/claim_deliveries"),
            &[&limit, &max_attempts, &server_id, &(lease_ms as f64), &now],
        )
        .await?;
    let mut claimed: Vec<ClaimedDelivery> = rows
        .iter()
        .map(|r| ClaimedDelivery {
            id: r.get(0),
            alert_id: r.get(1),
            group: r.get(2),
            channel_index: r.get(3),
            channel: r.get(4),
            secret: r.get(5),
            attempt: r.get(6),
            claim_token: r.get(7),
            kind: r.get(8),
            payload: r.get(9),
            workflow_instance_id: r.get(10),
            task_instance_id: r.get(11),
            created_at: r.get(12),
        })
        .collect();
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub struct DeliveryResult {
    pub delivery_id: i64,
    pub claim_token: Uuid,
    /// `sent`, `pending` (retry after `retry_in_ms`) or `failed`.
    pub state: &'static str,
    pub answer: String,
    pub retry_in_ms: i64,
}

/// Record one attempt's answer and its alert's state, in one transaction; false when the
/// claim was no longer this one (the write was fenced out and nothing changed).
pub async fn record_result(
    client: &mut deadpool_postgres::Object,
    result: &DeliveryResult,
    now: Now,
) -> Result<bool> {
    let tx = client.transaction().await?;
    let row = tx
        .fetch_opt(
            query!("alerts/record_result"),
            &[
                &result.delivery_id,
                &result.claim_token,
                &result.state,
                &result.answer,
                &(result.retry_in_ms as f64),
                &now,
            ],
        )
        .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(false);
    };
    let alert_id: i64 = row.get(0);
    refresh_states(&tx, &[alert_id]).await?;
    tx.commit().await?;
    Ok(true)
}

async fn refresh_states(client: &impl Conn, alert_ids: &[i64]) -> Result<()> {
    client
        .exec(query!("alerts/refresh_state"), &[&alert_ids])
        .await?;
    Ok(())
}

/// Milliseconds until the next delivery is due (0: now); None when nothing waits.
pub async fn next_due_ms(client: &impl Conn, now: Now) -> Result<Option<f64>> {
    Ok(client
        .fetch_one(query!("alerts/next_due"), &[&now])
        .await?
        .get(0))
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub instance: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
    /// Only alerts of instances in projects this user may read (`None`: an admin, every
    /// alert, those about no instance included).
    pub viewer: Option<i64>,
}

/// One alert with its deliveries as stored (`deliveries[i].spec` is the channel; the caller
/// redacts it before showing it).
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub group: Option<String>,
    pub workflow_instance_id: Option<i64>,
    pub task_instance_id: Option<i64>,
    pub payload: serde_json::Value,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub routed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub deliveries: serde_json::Value,
}

pub async fn list(client: &impl Conn, filter: &AlertFilter) -> Result<Vec<AlertRow>> {
    Ok(client
        .fetch(
            query!("alerts/list"),
            &[
                &filter.state,
                &filter.kind,
                &filter.instance,
                &filter.before_id,
                &filter.limit,
                &filter.viewer,
            ],
        )
        .await?
        .iter()
        .map(|r| AlertRow {
            id: r.get(0),
            kind: r.get(1),
            state: r.get(2),
            group: r.get(3),
            workflow_instance_id: r.get(4),
            task_instance_id: r.get(5),
            payload: r.get(6),
            error: r.get(7),
            created_at: r.get(8),
            routed_at: r.get(9),
            updated_at: r.get(10),
            deliveries: r.get(11),
        })
        .collect())
}

/// One channel's outcome of `pgdag alert test`.
#[derive(Debug, Clone)]
pub struct TestDelivery {
    pub channel_index: i32,
    pub channel_type: String,
    pub channel: serde_json::Value,
    /// `sent` or `failed`.
    pub state: &'static str,
    pub answer: String,
}

/// Record a test message that was already sent (or failed) on every channel; returns the
/// alert id.
pub async fn record_test(
    client: &mut deadpool_postgres::Object,
    group: &str,
    payload: &serde_json::Value,
    deliveries: &[TestDelivery],
) -> Result<i64> {
    let state = if deliveries.iter().all(|d| d.state == "sent") {
        "sent"
    } else {
        "failed"
    };
    let tx = client.transaction().await?;
    let id: i64 = tx
        .fetch_one(query!("alerts/insert_test"), &[&group, payload, &state])
        .await?
        .get(0);
    let indexes: Vec<i32> = deliveries.iter().map(|d| d.channel_index).collect();
    let types: Vec<&str> = deliveries.iter().map(|d| d.channel_type.as_str()).collect();
    let channels: Vec<&serde_json::Value> = deliveries.iter().map(|d| &d.channel).collect();
    let states: Vec<&str> = deliveries.iter().map(|d| d.state).collect();
    let answers: Vec<&str> = deliveries.iter().map(|d| d.answer.as_str()).collect();
    tx.exec(
        query!("alerts/insert_test_deliveries"),
        &[&id, &group, &indexes, &types, &channels, &states, &answers],
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The names among `names` that are not alert groups.
pub async fn missing_groups(client: &impl Conn, names: &[String]) -> Result<Vec<String>> {
    let found = get_groups(client, names).await?;
    let mut missing: Vec<String> = names
        .iter()
        .filter(|n| !found.iter().any(|g| &g.name == *n))
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    Ok(missing)
}

/// A group ready to store: channels without passwords, and the sealed password of each
/// channel that had a `password:` (see `alert::channel::seal`).
#[derive(Debug, Clone)]
pub struct SealedGroup {
    pub name: String,
    pub channels: serde_json::Value,
    pub secrets: Vec<Option<Vec<u8>>>,
}
