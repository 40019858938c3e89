//! Leader election and the leader's duties.
//!
//! Every master runs this service. It waits for the leader advisory lock (`LEADER_KEY`) on
//! a dedicated connection, in a blocked `pg_advisory_lock`, so that a follower costs the
//! database nothing while it waits and takes over the moment the leader's session ends
//! (`leader_retry` is only the pause after an error); the winner bumps `pgdag.leader_term` and
//! from then on starts every leader transaction with `holds_term` (`term = mine ... FOR
//! SHARE`), so a leader cut off by a partition cannot write after a successor took over.
//! It also steps down on its own when its lock connection has not answered within the
//! trust window (half of `dead_after`), before the rest of the cluster could consider it
//! gone.
//!
//! While it leads, the cron firer (`firer`) runs beside it, fenced by the same term.
//!
//! Duties, each tick (at most `trust` apart, and at the moment a server's heartbeat would
//! pass `dead_after`): declare servers dead (liveness lock free and heartbeat older than two
//! intervals — a session that ended; or heartbeat older than `dead_after`) and fail their
//! attempts over — during its first `dead_after` a new leader goes by heartbeats only, since
//! after a Postgres restart every process is still re-taking its lock; every minute, prune old rows. A failed tick is logged and retried; losing
//! the lock connection ends the leadership (the lock goes with the session).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Membership;
use super::firer::{Firer, FirerConfig};
use crate::service::{self, Loop, Next, Round, jittered};
use crate::store::db::Session;
use crate::store::{Channel, Store, StoreError, cluster, instances, servers};

/// The leader's settings.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// How often a master that is not the leader tries the lock.
    pub retry: Duration,
    /// How often the leader does its duties.
    pub tick: Duration,
    /// The leader steps down when its lock connection does not answer within this.
    pub trust: Duration,
    /// How often it prunes.
    pub prune_every: Duration,
    pub retention_days: u32,
    /// A server whose heartbeat is older is dead.
    pub dead_after: Duration,
    /// A heartbeat older than this (and a free liveness lock) means the session is gone.
    pub stale_after: Duration,
    pub firer: FirerConfig,
    pub clock: crate::clock::Clock,
}

impl LeaderConfig {
    pub const DEFAULT_PRUNE_EVERY: Duration = Duration::from_secs(60);
    /// The longest tick (a shorter trust window makes it shorter). The leader's ping on its
    /// lock connection keeps that session from its idle timeout (`dead_after`).
    pub const MAX_TICK: Duration = Duration::from_secs(5);

    pub fn validate(&self) -> Result<(), String> {
        if self.retry.is_zero() || self.tick.is_zero() || self.trust.is_zero() {
            return Err(format!(
                "leader: retry, tick and trust must be above zero ({self:?})"
            ));
        }
        if self.trust >= self.dead_after {
            return Err("leader: the trust window must be shorter than dead_after".into());
        }
        self.firer.validate()
    }
}

pub async fn run(
    store: Store,
    config: LeaderConfig,
    membership: Membership,
    wakeups: super::Wakeups,
    cancel: CancellationToken,
) {
    let rounds = wakeups.rounds.clone();
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(jittered(config.retry)) => {}
            }
        }
        first = false;
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
        // A session that stops answering (a partition) must not keep the lock the server
        // granted it: it ends after `dead_after` idle, while the leader pings every tick.
        let timeout = (config.dead_after.as_millis() as u64).max(1000);
        if let Err(e) = servers::set_idle_session_timeout(&client, timeout).await {
            tracing::debug!(error = %e, "setting up the leader lock connection failed");
            continue;
        }
        // Queue for the lock in the server: the wait is one blocked statement, granted the
        // moment the leader's session ends, not a retry every second.
        let token = client.cancel_token();
        let locked = tokio::select! {
            r = servers::lock(&client, servers::LEADER_KEY) => r,
            _ = cancel.cancelled() => {
                let _ = token.cancel_query(tokio_postgres::NoTls).await;
                return;
            }
        };
        if let Err(e) = locked {
            tracing::debug!(error = %e, "waiting for the leader lock failed");
            continue;
        }
        if !membership.is_healthy() {
            continue; // fenced while it waited: the lock goes with the connection
        }
        let me = membership.server_id();
        let term = match cluster::elect_on(&client, me).await {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(error = %e, "bumping the leader term failed");
                continue;
            }
        };
        tracing::info!(server_id = me, term, "this process is the leader");
        crate::metrics::LEADER.store(1, std::sync::atomic::Ordering::Relaxed);
        let leading = cancel.child_token();
        let firer = tokio::spawn(service::run(
            Firer {
                store: store.clone(),
                me,
                term,
                config: config.firer.clone(),
            },
            Loop::new(crate::service::rounds::FIRER, leading.clone())
                .woken_by(&wakeups.schedule)
                .counted(&rounds),
        ));
        let mut duties = Duties {
            store: store.clone(),
            config: config.clone(),
            membership: membership.clone(),
            lock: client,
            term,
            last_prune: Instant::now(),
            elected: Instant::now(),
            ended: None,
        };
        let lp = Loop::new(crate::service::rounds::LEADER, leading.clone())
            .poll(config.tick)
            .counted(&rounds);
        // The duties end the leadership by saying Done (or the process stops); the lock
        // connection lives in `duties` until then.
        service::run(&mut duties, lp).await;
        leading.cancel();
        let _ = firer.await;
        crate::metrics::LEADER.store(0, std::sync::atomic::Ordering::Relaxed);
        let reason = duties.ended.unwrap_or("shutting down");
        tracing::warn!(server_id = me, term, reason, "leadership ended");
        drop(duties); // the lock goes with the session
    }
}

/// The leader's duties of one term, a fenced transaction per tick.
struct Duties {
    store: Store,
    config: LeaderConfig,
    membership: Membership,
    lock: Session,
    term: i64,
    last_prune: Instant,
    elected: Instant,
    /// Why the leadership ended, once it has.
    ended: Option<&'static str>,
}

impl Duties {
    fn end(&mut self, reason: &'static str) -> Next {
        self.ended = Some(reason);
        Next::Done
    }
}

impl Round for Duties {
    async fn round(&mut self) -> Result<Next, StoreError> {
        if !self.membership.is_healthy() {
            return Ok(self.end("this process fenced itself"));
        }
        match tokio::time::timeout(self.config.trust, servers::ping(&self.lock)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(self.end("the lock connection did not answer within the trust window")),
        }
        let prune = self.last_prune.elapsed() >= self.config.prune_every;
        // A new leader often comes after Postgres restarted, when every process is still
        // re-taking its liveness lock: for one `dead_after` it judges by heartbeats only.
        let trust_locks = self.elected.elapsed() >= self.config.dead_after;
        if prune {
            // Before the instance prune, whose deletes would take these logs row by row.
            if let Err(e) = log_partitions(
                &self.store,
                &self.config,
                self.term,
                self.membership.server_id(),
            )
            .await
            {
                tracing::warn!(error = %e, "task log partition upkeep failed; tried again next round");
            }
        }
        let next = duties(
            &self.store,
            &self.config,
            &self.lock,
            self.membership.server_id(),
            self.term,
            prune,
            trust_locks,
        )
        .await?;
        let Some(next) = next else {
            return Ok(self.end("a newer term exists"));
        };
        if prune {
            self.last_prune = Instant::now();
        }
        // The next tick, or sooner when a server's heartbeat would then pass `dead_after`.
        Ok(next.map_or(Next::Idle, Next::In))
    }
}

/// Task log partitions in a fenced transaction of their own (`cluster::log_partitions`).
async fn log_partitions(
    store: &Store,
    config: &LeaderConfig,
    term: i64,
    me: i64,
) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    if !cluster::holds_term(&tx, term, me).await? {
        return Ok(());
    }
    let (created, dropped) =
        cluster::log_partitions(&tx, config.retention_days as i32, config.clock.now()).await?;
    tx.commit().await?;
    if created > 0 || !dropped.is_empty() {
        tracing::info!(created, dropped = ?dropped, "task log partitions");
    }
    Ok(())
}

/// One fenced leader transaction. Returns None when the term is no longer ours, else when
/// the next live server would pass `dead_after` without a heartbeat (None: no other server).
async fn duties(
    store: &Store,
    config: &LeaderConfig,
    lock: &Session,
    me: i64,
    term: i64,
    prune: bool,
    trust_locks: bool,
) -> Result<Option<Option<Duration>>, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    if !cluster::holds_term(&tx, term, me).await? {
        return Ok(None);
    }
    let stale_after = config.stale_after.as_millis() as i64;
    let dead_after = config.dead_after.as_millis() as i64;
    let mut dead = Vec::new();
    let mut next: Option<Duration> = None;
    for (id, heartbeat_age_ms) in cluster::live_servers(&tx, me, config.clock.now()).await? {
        if heartbeat_age_ms <= dead_after {
            let due = Duration::from_millis((dead_after - heartbeat_age_ms) as u64 + 1);
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        if heartbeat_age_ms > dead_after {
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
    Ok(Some(next))
}
