//! Membership: this process's `pgdag.server` row, the session advisory lock that proves it
//! alive, and its heartbeat.
//!
//! Owns one dedicated connection (outside the pool) holding the liveness lock
//! `liveness_key(server_id)` for the process's whole life; the leader declares a server
//! dead when that lock is free (its session ended: immediate on a crash) or its heartbeat
//! is older than `dead_after`. The heartbeat runs on the same connection every
//! `heartbeat_interval`. The connection also sets `idle_session_timeout`, so a process
//! that hangs stops holding its lock.
//!
//! How it fails: when the heartbeat has not succeeded for `dead_after`, the process fences
//! itself — workers stop claiming and kill their running tasks without reporting them.
//! When the database answers again it keeps its identity if its row is still alive and
//! its lock can be taken again, handing back the attempts it dropped; otherwise (it was
//! declared dead, its attempts were failed over) it registers as a new server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::service::{self, Loop, Next, Round, Rounds};
use crate::store::db::Session;
use crate::store::{Store, StoreError, cluster, servers};

/// What the rest of the process sees of its membership.
#[derive(Clone)]
pub struct Membership {
    inner: Arc<Inner>,
}

struct Inner {
    server_id: AtomicI64,
    healthy: AtomicBool,
    fence: watch::Sender<u64>,
    running_tasks: Arc<AtomicUsize>,
}

impl Membership {
    /// The current server id (it changes when the process had to take a new identity).
    pub fn server_id(&self) -> i64 {
        self.inner.server_id.load(Ordering::SeqCst)
    }
    /// False while the process is fenced: it must not claim work.
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::SeqCst)
    }
    /// Changes each time the process fences itself: running tasks must be dropped.
    pub fn fences(&self) -> watch::Receiver<u64> {
        self.inner.fence.subscribe()
    }
    /// The count reported in heartbeats.
    pub fn running_tasks(&self) -> Arc<AtomicUsize> {
        self.inner.running_tasks.clone()
    }
    fn fence(&self) {
        self.inner.healthy.store(false, Ordering::SeqCst);
        self.inner.fence.send_modify(|g| *g += 1);
    }
}

/// The heartbeat's and the registration's settings.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// The `pgdag.server` row's name.
    pub server_name: String,
    pub worker_groups: Vec<String>,
    /// Slots reported by a worker.
    pub max_tasks: usize,
    pub heartbeat_interval: std::time::Duration,
    /// No heartbeat for this long: the process fences itself (and others declare it dead).
    pub dead_after: std::time::Duration,
    pub clock: crate::clock::Clock,
}

impl MembershipConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_interval.is_zero() || self.dead_after <= self.heartbeat_interval {
            return Err(format!(
                "membership: dead_after ({:?}) must be longer than the heartbeat interval ({:?})",
                self.dead_after, self.heartbeat_interval
            ));
        }
        Ok(())
    }
}

struct Registration {
    store: Store,
    config: MembershipConfig,
    roles: Vec<String>,
}

impl Registration {
    /// A dedicated connection for the liveness lock.
    async fn connect(&self) -> Result<Session, StoreError> {
        let client = self.store.dedicated().await?;
        // A hung process stops holding its lock after this long without a statement.
        let timeout = (self.config.dead_after.as_millis() as u64).max(1000);
        servers::set_idle_session_timeout(&client, timeout).await?;
        Ok(client)
    }

    /// Insert a new server row and take its liveness lock.
    async fn register(&self, client: &Session) -> Result<i64, StoreError> {
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into());
        let id = servers::register(
            client,
            &self.config.server_name,
            &self.roles,
            &host,
            std::process::id() as i32,
            &self.config.worker_groups,
            self.roles
                .iter()
                .any(|r| r == "worker")
                .then_some(self.config.max_tasks as i32),
        )
        .await?;
        if !servers::try_lock(client, servers::liveness_key(id)).await? {
            return Err(StoreError::Conflict(format!(
                "the liveness lock of new server {id} is taken"
            )));
        }
        servers::set_application_name(client, &servers::application_name(&self.roles, Some(id)))
            .await?;
        crate::logging::set_server_id(id);
        Ok(id)
    }
}

/// Register this process and return its membership, the store renamed
/// `pgdag:<roles>:<server id>` (the rest of the process uses it from then on) and the
/// service that keeps the membership.
pub async fn start(
    store: Store,
    config: MembershipConfig,
    roles: Vec<String>,
    rounds: Rounds,
    cancel: CancellationToken,
) -> Result<(Membership, Store, impl std::future::Future<Output = ()>), StoreError> {
    let mut registration = Registration {
        store,
        config,
        roles,
    };
    let client = registration.connect().await?;
    let id = registration.register(&client).await?;
    registration.store = registration
        .store
        .named(&servers::application_name(&registration.roles, Some(id)))?;
    let store = registration.store.clone();
    let (fence, _) = watch::channel(0);
    let membership = Membership {
        inner: Arc::new(Inner {
            server_id: AtomicI64::new(id),
            healthy: AtomicBool::new(true),
            fence,
            running_tasks: Arc::default(),
        }),
    };
    let service = run(registration, membership.clone(), client, rounds, cancel);
    Ok((membership, store, service))
}

async fn run(
    registration: Registration,
    membership: Membership,
    client: Session,
    rounds: Rounds,
    cancel: CancellationToken,
) {
    let interval = registration.config.heartbeat_interval;
    let mut heartbeat = Heartbeat {
        dead_after: registration.config.dead_after,
        registration,
        membership,
        client: Some(client),
        last_ok: Instant::now(),
    };
    let lp = Loop::new(crate::service::rounds::HEARTBEAT, cancel)
        .poll(interval)
        .counted(&rounds);
    service::run(&mut heartbeat, lp).await;
    // Clean shutdown: the row says stopped, so the leader does not fail anything over.
    if let Some(c) = heartbeat.client {
        let _ = servers::stop(&c, heartbeat.membership.server_id()).await;
    }
}

/// The heartbeat on the lock connection, and what follows when it fails: reconnecting,
/// re-registering, and fencing after `dead_after` without one. Never fails a round: every
/// error is handled here, on the protocol's own timings.
struct Heartbeat {
    registration: Registration,
    membership: Membership,
    /// The lock connection; `None` while it is lost.
    client: Option<Session>,
    last_ok: Instant,
    dead_after: std::time::Duration,
}

impl Round for Heartbeat {
    async fn round(&mut self) -> Result<Next, StoreError> {
        let (registration, membership) = (&self.registration, &self.membership);
        if self.client.is_none() {
            self.client = reconnect(registration, membership).await;
            if self.client.is_some() {
                self.last_ok = Instant::now();
            }
        } else if let Some(c) = &self.client {
            let id = membership.server_id();
            let count = membership.inner.running_tasks.load(Ordering::Relaxed) as i32;
            match tokio::time::timeout(
                self.dead_after,
                servers::heartbeat(
                    c,
                    id,
                    count,
                    load_average(),
                    registration.config.clock.now(),
                ),
            )
            .await
            {
                Ok(Ok(true)) => self.last_ok = Instant::now(),
                Ok(Ok(false)) => {
                    // Declared dead while we still ran: drop the work, take a new identity.
                    tracing::warn!(
                        server_id = id,
                        "this server was declared dead; fencing and re-registering"
                    );
                    membership.fence();
                    match registration.register(c).await {
                        Ok(new_id) => {
                            let _ = servers::unlock(c, servers::liveness_key(id)).await;
                            membership.inner.server_id.store(new_id, Ordering::SeqCst);
                            membership.inner.healthy.store(true, Ordering::SeqCst);
                            self.last_ok = Instant::now();
                            tracing::info!(server_id = new_id, "registered again");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "re-registering failed");
                            self.client = None;
                        }
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "heartbeat failed; reconnecting");
                    self.client = None;
                }
                Err(_) => {
                    tracing::warn!("heartbeat timed out; reconnecting");
                    self.client = None;
                }
            }
        }
        if self.last_ok.elapsed() >= self.dead_after && membership.is_healthy() {
            tracing::error!(
                server_id = membership.server_id(),
                "no heartbeat for {:?}: fencing (no new claims, running tasks killed)",
                self.dead_after
            );
            membership.fence();
        }
        Ok(Next::Idle)
    }
}

/// After the lock connection was lost: keep the identity if the row is alive and the
/// lock can be taken again, else register anew. Attempts dropped while fenced are
/// handed back either way.
async fn reconnect(registration: &Registration, membership: &Membership) -> Option<Session> {
    let client = match registration.connect().await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "lock connection still down");
            return None;
        }
    };
    let id = membership.server_id();
    let result = async {
        let pooled = registration.store.client().await?;
        let alive = cluster::server_alive(&pooled, id).await?;
        if alive && servers::try_lock(&client, servers::liveness_key(id)).await? {
            if !membership.is_healthy() {
                let n =
                    cluster::hand_back(&pooled, id, "handed back after the server fenced itself")
                        .await?;
                tracing::info!(server_id = id, handed_back = n, "lock connection restored");
            }
            return Ok::<_, StoreError>(id);
        }
        // Dead, or the old session still holds the lock: start over as a new server.
        cluster::mark_dead(&pooled, id).await?;
        cluster::hand_back(&pooled, id, "handed back: the server lost its identity").await?;
        membership.fence();
        let new_id = registration.register(&client).await?;
        tracing::warn!(
            old_server_id = id,
            server_id = new_id,
            "registered as a new server"
        );
        Ok(new_id)
    }
    .await;
    match result {
        Ok(id) => {
            membership.inner.server_id.store(id, Ordering::SeqCst);
            membership.inner.healthy.store(true, Ordering::SeqCst);
            Some(client)
        }
        Err(e) => {
            tracing::warn!(error = %e, "restoring membership failed");
            None
        }
    }
}

/// The host's 1-minute load average (first field of `/proc/loadavg`; `None` elsewhere).
fn load_average() -> Option<f32> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
