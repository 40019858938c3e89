//! Leader election and the leader's duties.
//!
//! Every master runs this service. It tries the leader advisory lock (`LEADER_KEY`) on a
//! dedicated connection every `leader_retry`; the winner bumps `pgdag.leader_term` and
//! from then on starts every leader transaction with `holds_term` (`term = mine ... FOR
//! SHARE`), so a leader cut off by a partition cannot write after a successor took over.
//! It also steps down on its own when its lock connection has not answered within the
//! trust window (half of `dead_after`), before the rest of the cluster could consider it
//! gone.
//!
//! While it leads, the cron firer (`firer`) runs beside it, fenced by the same term.
//!
//! Duties, each tick: declare servers dead (liveness lock free and heartbeat older than two
//! intervals — a session that ended; or heartbeat older than `dead_after`) and fail their
//! attempts over — during its first `dead_after` a new leader goes by heartbeats only, since
//! after a Postgres restart every process is still re-taking its lock; every minute, prune old rows. A failed tick is logged and retried; losing
//! the lock connection ends the leadership (the lock goes with the session).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Membership, Rounds, jittered};
use crate::config::Config;
use crate::store::db::Session;
use crate::store::{Channel, Store, StoreError, cluster, instances, servers};

/// How often the leader prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub async fn run(
    store: Store,
    config: Config,
    membership: Membership,
    rounds: Rounds,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(jittered(config.leader_retry.as_std())) => {}
        }
        if !membership.is_healthy() {
            continue;
        }
        let client = match store.dedicated().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "leader lock connection failed");
                continue;
            }
        };
        match servers::try_lock(&client, servers::LEADER_KEY).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "trying the leader lock failed");
                continue;
            }
        }
        let me = membership.server_id();
        let term = match cluster::elect_on(&client, me).await {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(error = %e, "bumping the leader term failed");
                continue;
            }
        };
        tracing::info!(server = me, term, "this process is the leader");
        let firing = cancel.child_token();
        let firer = tokio::spawn(super::firer::run(
            store.clone(),
            me,
            term,
            config.clock.clone(),
            rounds.clone(),
            firing.clone(),
        ));
        let reason = lead(
            &store,
            &config,
            &membership,
            &client,
            term,
            &rounds,
            &cancel,
        )
        .await;
        firing.cancel();
        let _ = firer.await;
        tracing::warn!(server = me, term, reason, "leadership ended");
        drop(client); // the lock goes with the session
    }
}

async fn lead(
    store: &Store,
    config: &Config,
    membership: &Membership,
    lock: &Session,
    term: i64,
    rounds: &Rounds,
    cancel: &CancellationToken,
) -> &'static str {
    let tick = config
        .heartbeat_interval
        .as_std()
        .min(Duration::from_secs(1));
    let trust = config.dead_after.as_std() / 2;
    let mut last_prune = Instant::now();
    let elected = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return "shutting down",
            _ = tokio::time::sleep(tick) => {}
        }
        if !membership.is_healthy() {
            return "this process fenced itself";
        }
        match tokio::time::timeout(trust, servers::ping(lock)).await {
            Ok(Ok(_)) => {}
            _ => return "the lock connection did not answer within the trust window",
        }
        let prune = last_prune.elapsed() >= PRUNE_EVERY;
        // A new leader often comes after Postgres restarted, when every process is still
        // re-taking its liveness lock: for one `dead_after` it judges by heartbeats only.
        let trust_locks = elected.elapsed() >= config.dead_after.as_std();
        let counted = rounds.begin(super::rounds::LEADER);
        match duties(
            store,
            config,
            lock,
            membership.server_id(),
            term,
            prune,
            trust_locks,
        )
        .await
        {
            Ok(true) => {
                counted.done();
                if prune {
                    last_prune = Instant::now();
                }
            }
            Ok(false) => return "a newer term exists",
            Err(e) => tracing::warn!(error = %e, "leader duties failed"),
        }
    }
}

/// One fenced leader transaction. Returns false when the term is no longer ours.
async fn duties(
    store: &Store,
    config: &Config,
    lock: &Session,
    me: i64,
    term: i64,
    prune: bool,
    trust_locks: bool,
) -> Result<bool, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    if !cluster::holds_term(&tx, term, me).await? {
        return Ok(false);
    }
    let stale_after = (config.heartbeat_interval.millis * 2) as i64;
    let mut dead = Vec::new();
    for (id, heartbeat_age_ms) in cluster::live_servers(&tx, me, config.clock.now()).await? {
        if heartbeat_age_ms > config.dead_after.millis as i64 {
            dead.push(id);
        } else if trust_locks && heartbeat_age_ms > stale_after {
            // The liveness lock is free when its session is gone.
            let key = servers::liveness_key(id);
            if servers::try_lock(lock, key).await? {
                servers::unlock(lock, key).await?;
                dead.push(id);
            }
        }
    }
    if !dead.is_empty() {
        let (servers_dead, attempts) = cluster::failover(&tx, &dead).await?;
        tracing::warn!(servers = servers_dead, attempts, ids = ?dead, "failover");
        crate::metrics::add(&crate::metrics::DEAD_SERVERS, servers_dead as u64);
        crate::metrics::add(&crate::metrics::FAILOVERS, attempts as u64);
        instances::notify(&tx, Channel::Eval, "").await?;
    }
    if prune {
        let deleted = cluster::prune(&tx, config.retention_days as i32, config.clock.now()).await?;
        if deleted > 0 {
            tracing::info!(deleted, "pruned old rows");
        }
    }
    tx.commit().await?;
    Ok(true)
}
