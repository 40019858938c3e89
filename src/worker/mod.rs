//! The worker role: claims task attempts for its worker groups, runs them, and reports.
//!
//! Owns the processes it started (each in its own process group) and nothing in the
//! database but the attempts it holds a claim token for. Claims in batches sized to its
//! free slots (`max_tasks`, plus four times as many prefetched), in the queue's priority order,
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
pub mod fence_watch;
pub mod fetcher;
pub mod kill_watch;
pub mod local_queue;
pub mod orphans;
pub mod secrets;
pub mod shipper;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::{Membership, Wakeups};
use crate::service::{self, Loop, Rounds};
use crate::store::{Store, cluster};

/// The worker's services' settings, built from `Config` by `server::ServiceConfigs`.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub fetcher: fetcher::FetcherConfig,
    /// How often the kill requests are read while attempts run.
    pub kill_poll: Duration,
    /// Where the process groups of running scripts are recorded.
    pub state_dir: std::path::PathBuf,
    pub clock: crate::clock::Clock,
}

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

/// Start the fetcher, the kill watch, the fence watch and the log shipper.
#[allow(clippy::too_many_arguments)]
pub fn start(
    set: &mut JoinSet<()>,
    store: Store,
    config: WorkerConfig,
    resources_config: crate::config::Config,
    membership: Membership,
    wakeups: Wakeups,
    secret_key: Option<crate::secret::SecretKey>,
    rounds: &Rounds,
    cancel: CancellationToken,
) -> Worker {
    let (shipper, shipper_task) = shipper::Shipper::start(
        store.clone(),
        config.clock.clone(),
        membership.running_tasks(),
        wakeups.clone(),
        cancel.clone(),
    );
    set.spawn(shipper_task);
    let registry = orphans::Registry::start(&config.state_dir);
    let resources = Arc::new(crate::tasks::Resources {
        http: crate::tasks::http::client(&resources_config.http_allow),
        pools: crate::tasks::pool::Pools::start(resources_config.datasource_pool_size),
        config: resources_config,
        store: store.clone(),
        secret_key,
        registry: Arc::new(registry),
    });
    let running: Running = Arc::default();
    let stop_claiming = cancel.child_token();
    set.spawn(service::run(
        kill_watch::KillWatch {
            store: store.clone(),
            membership: membership.clone(),
            running: running.clone(),
        },
        Loop::new(crate::service::rounds::KILL_WATCH, cancel.clone())
            .poll(config.kill_poll)
            .woken_by(&wakeups.control)
            .counted(rounds),
    ));
    set.spawn(fence_watch::fence_watch(
        membership.clone(),
        running.clone(),
        cancel.clone(),
    ));
    let fetcher = fetcher::Fetcher::new(
        store.clone(),
        config.fetcher.clone(),
        membership.clone(),
        shipper,
        running.clone(),
        resources,
        wakeups.task_notices.clone(),
    );
    let idle = fetcher.idle.clone();
    let lp = Loop::new(crate::service::rounds::FETCHER, stop_claiming.clone())
        .poll(config.fetcher.poll_interval)
        .woken_by(&wakeups.task)
        .woken_by(&fetcher.slot_freed)
        .counted(rounds);
    set.spawn(service::run(fetcher, lp));
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
