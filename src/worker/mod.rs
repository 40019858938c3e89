//! The worker role: claims task attempts for its worker groups, runs them, and reports.
//!
//! Owns the processes it started (each in its own process group) and nothing in the
//! database but the attempts it holds a claim token for. Claims in batches sized to its
//! free slots (`max_tasks`, plus as many again prefetched), in the queue's priority order,
//! woken by `pgdag_task` and a jittered poll. Output and outcomes go through the shipper,
//! which batches them into few transactions.
//!
//! How it fails: a database error pauses claiming with a backoff; running tasks go on and
//! their reports are kept until the database answers again. When the process fences
//! itself (no heartbeat for `dead_after`) it stops claiming and kills its running tasks
//! without reporting them (they are failed over or handed back). On shutdown it stops
//! claiming, lets running tasks finish for `shutdown_grace`, then kills the rest and hands
//! them back at once (`need_failover`, re-queued by the master).

pub mod executor;
pub mod orphans;
pub mod shipper;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::{Membership, Wakeups, backoff, jittered};
use crate::config::Config;
use crate::store::{Result, Store, cluster, queue};

/// How an attempt's run is stopped early.
#[derive(Clone, Default)]
pub struct Stop {
    /// Kill the process group.
    pub kill: CancellationToken,
    /// The attempt is given back (shutdown, fencing): report nothing when it ends.
    pub hand_back: Arc<AtomicBool>,
}

/// Attempts held by this process: task instance id → (claim token, how to stop it).
pub type Running = Arc<Mutex<HashMap<i64, (Uuid, Stop)>>>;

/// Handle on a started worker, for a graceful shutdown.
pub struct Worker {
    store: Store,
    membership: Membership,
    running: Running,
    stop_claiming: CancellationToken,
    idle: Arc<tokio::sync::Notify>,
}

pub fn start(
    set: &mut JoinSet<()>,
    store: Store,
    config: Config,
    membership: Membership,
    wakeups: Wakeups,
    secret_key: Option<crate::secret::SecretKey>,
    cancel: CancellationToken,
) -> Worker {
    let (shipper, shipper_task) = shipper::Shipper::start(store.clone(), cancel.clone());
    set.spawn(shipper_task);
    let registry = orphans::Registry::start(&config.state_dir);
    let resources = Arc::new(crate::tasks::Resources {
        config: config.clone(),
        store: store.clone(),
        secret_key,
        registry: Arc::new(registry),
        http: crate::tasks::http::client(&config.http_allow),
    });
    let running: Running = Arc::default();
    let stop_claiming = cancel.child_token();
    let idle = Arc::new(tokio::sync::Notify::new());
    set.spawn(kill_watch(
        store.clone(),
        membership.clone(),
        wakeups.clone(),
        running.clone(),
        cancel.clone(),
    ));
    set.spawn(fence_watch(
        membership.clone(),
        running.clone(),
        cancel.clone(),
    ));
    let fetcher = Fetcher {
        store: store.clone(),
        config,
        membership: membership.clone(),
        wakeups,
        shipper,
        running: running.clone(),
        resources,
        idle: idle.clone(),
        local: LocalQueue::default(),
    };
    set.spawn(fetcher.run(stop_claiming.clone()));
    Worker {
        store,
        membership,
        running,
        stop_claiming,
        idle,
    }
}

impl Worker {
    /// Stop claiming, let running tasks finish for `grace`, then kill the rest and hand
    /// them back so that they are re-queued at once.
    pub async fn drain(&self, grace: Duration) {
        self.stop_claiming.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        while !self.running.lock().expect("running lock").is_empty() {
            if tokio::time::timeout_at(deadline, self.idle.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        let left: Vec<Stop> = self
            .running
            .lock()
            .expect("running lock")
            .values()
            .map(|(_, stop)| stop.clone())
            .collect();
        if left.is_empty() {
            return;
        }
        tracing::info!(
            attempts = left.len(),
            "grace period over: handing back running attempts"
        );
        for stop in &left {
            stop.hand_back.store(true, Ordering::SeqCst);
            stop.kill.cancel();
        }
        let until = tokio::time::Instant::now() + executor::KILL_GRACE + Duration::from_secs(1);
        while !self.running.lock().expect("running lock").is_empty() {
            if tokio::time::timeout_at(until, self.idle.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        let result = async {
            let client = self.store.client().await?;
            let n = cluster::hand_back(
                &client,
                self.membership.server_id(),
                "handed back at shutdown",
            )
            .await?;
            crate::store::instances::notify(&client, crate::store::Channel::Eval, "").await?;
            Ok::<_, crate::store::StoreError>(n)
        }
        .await;
        match result {
            Ok(n) => tracing::info!(handed_back = n, "attempts handed back"),
            Err(e) => {
                tracing::warn!(error = %e, "handing back failed; failover will re-queue them")
            }
        }
    }
}

struct Fetcher {
    store: Store,
    config: Config,
    membership: Membership,
    wakeups: Wakeups,
    shipper: shipper::Shipper,
    running: Running,
    resources: Arc<crate::tasks::Resources>,
    idle: Arc<tokio::sync::Notify>,
    local: LocalQueue,
}

impl Fetcher {
    async fn run(self, stop: CancellationToken) {
        // `exec`: slots that run a process. `held`: attempts claimed and not finished — up
        // to twice `max_tasks` more than the slots, so that the next attempts are at hand
        // when a slot frees and claims go in batches instead of one round trip per task.
        let max = self.config.max_tasks;
        let exec = Arc::new(Semaphore::new(max));
        let held = Arc::new(Semaphore::new(max * 3));
        let batch = max;
        let slot_freed = Arc::new(tokio::sync::Notify::new());
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let room = held.available_permits();
            let running_now = max - exec.available_permits();
            let waiting = (max * 3 - room).saturating_sub(running_now);
            // Claim when a slot would otherwise idle, or when a whole batch fits.
            let want = if !self.membership.is_healthy() {
                0
            } else if exec.available_permits() > waiting || room >= batch {
                room
            } else {
                0
            };
            let mut claimed_all = false;
            if want > 0 {
                match self.claim(want as i64).await {
                    Ok(tasks) => {
                        failures = 0;
                        crate::metrics::add(&crate::metrics::CLAIMS, tasks.len() as u64);
                        claimed_all = tasks.len() == want;
                        for task in tasks {
                            let held_permit = held
                                .clone()
                                .try_acquire_owned()
                                .expect("room was counted before claiming");
                            self.spawn(task, exec.clone(), held_permit, slot_freed.clone());
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %e, "claiming tasks failed");
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(backoff(failures)) => {}
                        }
                        continue;
                    }
                }
            }
            if claimed_all {
                continue; // there may be more
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.wakeups.task.notified(), if held.available_permits() > 0 => {}
                _ = slot_freed.notified() => {}
                _ = tokio::time::sleep(jittered(self.config.poll_interval.as_std())) => {}
            }
        }
    }

    async fn claim(&self, limit: i64) -> Result<Vec<queue::ClaimedTask>> {
        let client = self.store.client().await?;
        queue::claim(
            &client,
            &self.config.worker_groups,
            limit,
            &self.config.server_name,
            self.membership.server_id(),
        )
        .await
    }

    /// Hand a claimed attempt to the local queue; the dispatcher starts it when a slot
    /// frees, highest priority first (the queue's order), whatever order it was claimed in.
    fn spawn(
        &self,
        task: queue::ClaimedTask,
        exec: Arc<Semaphore>,
        held_permit: tokio::sync::OwnedSemaphorePermit,
        slot_freed: Arc<tokio::sync::Notify>,
    ) {
        let stop = Stop::default();
        self.running
            .lock()
            .expect("running lock")
            .insert(task.id, (task.claim_token, stop.clone()));
        self.membership
            .running_tasks()
            .fetch_add(1, Ordering::Relaxed);
        let local = self.local.clone();
        local.push(Pending {
            task,
            stop,
            held_permit,
        });
        // One dispatcher per claimed attempt keeps the code simple: each takes the best
        // attempt waiting when it gets a slot, so the order is the queue's.
        let (shipper, running, resources, idle, count) = (
            self.shipper.clone(),
            self.running.clone(),
            self.resources.clone(),
            self.idle.clone(),
            self.membership.running_tasks(),
        );
        tokio::spawn(async move {
            let exec_permit = exec
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let Some(Pending {
                task,
                stop,
                held_permit,
            }) = local.pop()
            else {
                return;
            };
            let id = task.id;
            executor::run(&resources, task, &shipper, &stop).await;
            running.lock().expect("running lock").remove(&id);
            count.fetch_sub(1, Ordering::Relaxed);
            drop(exec_permit);
            drop(held_permit);
            slot_freed.notify_one();
            idle.notify_one();
        });
    }
}

/// A claimed attempt waiting for a slot.
struct Pending {
    task: queue::ClaimedTask,
    stop: Stop,
    held_permit: tokio::sync::OwnedSemaphorePermit,
}

/// Claimed attempts waiting for a slot, taken best first by the queue's order key.
#[derive(Clone, Default)]
struct LocalQueue {
    items: Arc<Mutex<Vec<Pending>>>,
}

impl LocalQueue {
    fn push(&self, item: Pending) {
        self.items.lock().expect("local queue lock").push(item);
    }
    fn pop(&self) -> Option<Pending> {
        let mut items = self.items.lock().expect("local queue lock");
        let best = items
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.task.order_key)
            .map(|(i, _)| i)?;
        Some(items.swap_remove(best))
    }
}

/// Kills attempts whose kill the master requested (woken by `pgdag_control`; also checked
/// on the poll while anything runs, in case a notification was lost).
async fn kill_watch(
    store: Store,
    membership: Membership,
    wakeups: Wakeups,
    running: Running,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wakeups.control.notified() => {}
            _ = tokio::time::sleep(jittered(Duration::from_secs(2))) => {
                if running.lock().expect("running lock").is_empty() { continue; }
            }
        }
        let requests = async {
            let client = store.client().await?;
            queue::kill_requests(&client, membership.server_id()).await
        }
        .await;
        match requests {
            Ok(requests) => {
                let running = running.lock().expect("running lock");
                for (id, token) in requests {
                    if let Some((held, stop)) = running.get(&id)
                        && *held == token
                    {
                        stop.kill.cancel();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading kill requests failed"),
        }
    }
}

/// When the process fences itself, every running attempt is killed and not reported.
async fn fence_watch(membership: Membership, running: Running, cancel: CancellationToken) {
    let mut fences = membership.fences();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = fences.changed() => if changed.is_err() { return },
        }
        let running = running.lock().expect("running lock");
        if !running.is_empty() {
            tracing::warn!(attempts = running.len(), "fenced: killing running attempts");
        }
        for (_, stop) in running.values() {
            stop.hand_back.store(true, Ordering::SeqCst);
            stop.kill.cancel();
        }
    }
}
