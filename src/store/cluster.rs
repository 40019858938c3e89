//! Leader terms, liveness checks, failover and pruning.

use deadpool_postgres::GenericClient;

use super::Result;

/// True while `term` is still this server's; takes a share lock on the term row for the
/// rest of the transaction.
pub async fn holds_term(client: &impl GenericClient, term: i64, server_id: i64) -> Result<bool> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    Ok(client
        .query_opt(
            include_str!("../../sql/queries/cluster/check_term.sql"),
            &[&term, &server_id],
        )
        .await?
        .is_some())
}

/// Live servers other than `me`, with their heartbeat age in milliseconds.
pub async fn live_servers(client: &impl GenericClient, me: i64) -> Result<Vec<(i64, i64)>> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    let rows = client
        .query(
            include_str!("../../sql/queries/cluster/live_servers.sql"),
            &[&me],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Declare servers dead and fail their attempts over; returns (servers, attempts).
pub async fn failover(client: &impl GenericClient, dead: &[i64]) -> Result<(i64, i64)> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    let row = client
        .query_one(
            include_str!("../../sql/queries/cluster/failover.sql"),
            &[&dead],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Give back this server's attempts (re-queued at once); returns how many.
pub async fn hand_back(client: &impl GenericClient, server_id: i64, reason: &str) -> Result<i64> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    let row = client
        .query_one(
            include_str!("../../sql/queries/cluster/hand_back.sql"),
            &[&server_id, &reason],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn mark_dead(client: &impl GenericClient, server_id: i64) -> Result<()> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    client
        .execute(
            include_str!("../../sql/queries/cluster/mark_dead.sql"),
            &[&server_id],
        )
        .await?;
    Ok(())
}

/// Whether the server row is neither dead nor stopped (false when it is gone).
pub async fn server_alive(client: &impl GenericClient, server_id: i64) -> Result<bool> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    Ok(client
        .query_opt(
            include_str!("../../sql/queries/cluster/server_alive.sql"),
            &[&server_id],
        )
        .await?
        .map(|r| r.get(0))
        .unwrap_or(false))
}

/// Delete old rows: servers gone for a day, and instances and sent alerts past retention.
pub async fn prune(client: &impl GenericClient, retention_days: i32) -> Result<u64> {
    crate::metrics::add(&crate::metrics::QUERIES, 3);
    let mut deleted = client
        .execute(
            include_str!("../../sql/queries/cluster/prune_servers.sql"),
            &[],
        )
        .await?;
    deleted += client
        .execute(
            include_str!("../../sql/queries/cluster/prune_instances.sql"),
            &[&retention_days],
        )
        .await?;
    deleted += client
        .execute(
            include_str!("../../sql/queries/cluster/prune_alerts.sql"),
            &[&retention_days],
        )
        .await?;
    Ok(deleted)
}

/// `elect` on a dedicated (non-pooled) connection: the one that holds the leader lock.
pub async fn elect_on(client: &tokio_postgres::Client, server_id: i64) -> Result<i64> {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
    let row = client
        .query_one(
            include_str!("../../sql/queries/cluster/elect.sql"),
            &[&server_id],
        )
        .await?;
    Ok(row.get(0))
}
