//! Leader terms, liveness checks, failover and pruning.

use super::Now;
use super::Result;
use super::db::{Conn, query};

/// True while `term` is still this server's; takes a share lock on the term row for the
/// rest of the transaction.
pub async fn holds_term(client: &impl Conn, term: i64, server_id: i64) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("cluster/check_term"), &[&term, &server_id])
        .await?
        .is_some())
}

/// Live servers other than `me`, with their heartbeat age in milliseconds.
pub async fn live_servers(client: &impl Conn, me: i64, now: Now) -> Result<Vec<(i64, i64)>> {
    let rows = client
        .fetch(query!("cluster/live_servers"), &[&me, &now])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Declare servers dead and fail their attempts over; returns (servers, attempts).
pub async fn failover(client: &impl Conn, dead: &[i64]) -> Result<(i64, i64)> {
    let row = client
        .fetch_one(query!("cluster/failover"), &[&dead])
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Give back this server's attempts (re-queued at once); returns how many.
pub async fn hand_back(client: &impl Conn, server_id: i64, reason: &str) -> Result<i64> {
    let row = client
        .fetch_one(query!("cluster/hand_back"), &[&server_id, &reason])
        .await?;
    Ok(row.get(0))
}

pub async fn mark_dead(client: &impl Conn, server_id: i64) -> Result<()> {
    client
        .exec(query!("cluster/mark_dead"), &[&server_id])
        .await?;
    Ok(())
}

/// Whether the server row is neither dead nor stopped (false when it is gone).
pub async fn server_alive(client: &impl Conn, server_id: i64) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("cluster/server_alive"), &[&server_id])
        .await?
        .map(|r| r.get(0))
        .unwrap_or(false))
}

/// Delete old rows, each kind in a batch of at most 500: servers gone for a day; final
/// instances past their workflow's retention (or `retention_days`) with their tasks, logs,
/// events and alerts; schedule fires likewise; failed commands, finished backfills whose
/// instances are gone, other sent alerts and audit events past `retention_days`.
pub async fn prune(client: &impl Conn, retention_days: i32, now: Now) -> Result<u64> {
    let mut deleted = client
        .exec(query!("cluster/prune_servers"), &[&now])
        .await?;
    deleted += client
        .exec(query!("cluster/prune_instances"), &[&retention_days, &now])
        .await?;
    deleted += client
        .exec(query!("cluster/prune_alerts"), &[&retention_days, &now])
        .await?;
    deleted += client
        .exec(query!("cluster/prune_fires"), &[&retention_days, &now])
        .await?;
    deleted += client
        .exec(query!("cluster/prune_commands"), &[&retention_days, &now])
        .await?;
    deleted += client
        .exec(query!("cluster/prune_backfills"), &[&retention_days, &now])
        .await?;
    deleted += client
        .exec(query!("cluster/prune_audit"), &[&retention_days, &now])
        .await?;
    Ok(deleted)
}

/// Weeks of task log partitions the leader keeps ready ahead of the current one.
pub const LOG_WEEKS_AHEAD: i32 = 2;

/// How long a partition drop waits for its lock before it gives up until the next round.
pub const LOG_DROP_LOCK_TIMEOUT: &str = "2s";

/// Task log partitions: creates the weeks ahead that are missing and drops the weeks past
/// retention that hold nothing retention keeps. Run in a transaction of its own, before
/// [`prune`] (whose instance deletes would otherwise take those rows one by one): a lock
/// timeout here must not undo the leader's other duties. Returns (created, dropped names).
pub async fn log_partitions(
    client: &impl Conn,
    retention_days: i32,
    now: Now,
) -> Result<(i32, Vec<String>)> {
    client
        .fetch_one(query!("cluster/lock_timeout"), &[&LOG_DROP_LOCK_TIMEOUT])
        .await?;
    let created: i32 = client
        .fetch_one(
            query!("cluster/log_partitions_create"),
            &[&now, &LOG_WEEKS_AHEAD],
        )
        .await?
        .get(0);
    let dropped = client
        .fetch(
            query!("cluster/log_partitions_drop"),
            &[&retention_days, &now],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok((created, dropped))
}

/// `elect` on a dedicated (non-pooled) connection: the one that holds the leader lock.
pub async fn elect_on(client: &impl Conn, server_id: i64) -> Result<i64> {
    let row = client
        .fetch_one(query!("cluster/elect"), &[&server_id])
        .await?;
    Ok(row.get(0))
}

/// Instances and task instances per state: `(instances, task_instances)`.
pub async fn state_counts(client: &impl Conn) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    let rows = client.fetch(query!("cluster/state_counts"), &[]).await?;
    let (mut instances, mut tasks) = (Vec::new(), Vec::new());
    for r in rows {
        let kind: &str = r.get(0);
        let entry = (r.get::<_, String>(1), r.get::<_, i64>(2));
        if kind == "instance" {
            instances.push(entry);
        } else {
            tasks.push(entry);
        }
    }
    Ok((instances, tasks))
}
