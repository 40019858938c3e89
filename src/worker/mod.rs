//! The worker role: claims task attempts for its worker groups, runs them, and reports.
//!
//! Owns the processes it started (each in its own process group) and nothing in the
//! database but the attempts it holds a claim token for. Claims in batches sized to its
//! free slots (`max_tasks`), in the queue's priority order, woken by `pgdag_task` and a
//! jittered poll. Output and outcomes go through the shipper, which batches them into
//! few transactions. A database error pauses claiming with a backoff; running tasks go on
//! and their reports are kept until the database answers again.

pub mod executor;
pub mod shipper;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::{Wakeups, backoff, jittered};
use crate::config::Config;
use crate::store::{Result, Store, queue};

/// Attempts running in this process: task instance id → (claim token, kill switch).
pub type Running = Arc<Mutex<HashMap<i64, (Uuid, CancellationToken)>>>;

pub fn start(
    set: &mut JoinSet<()>,
    store: Store,
    config: Config,
    server_id: i64,
    wakeups: Wakeups,
    running_count: Arc<AtomicUsize>,
    cancel: CancellationToken,
) {
    let (shipper, shipper_task) = shipper::Shipper::start(store.clone(), cancel.clone());
    set.spawn(shipper_task);
    let running: Running = Arc::default();
    set.spawn(kill_watch(
        store.clone(),
        server_id,
        wakeups.clone(),
        running.clone(),
        cancel.clone(),
    ));
    set.spawn(fetch_loop(
        store,
        config,
        server_id,
        wakeups,
        shipper,
        running,
        running_count,
        cancel,
    ));
}

#[allow(clippy::too_many_arguments)]
async fn fetch_loop(
    store: Store,
    config: Config,
    server_id: i64,
    wakeups: Wakeups,
    shipper: shipper::Shipper,
    running: Running,
    running_count: Arc<AtomicUsize>,
    cancel: CancellationToken,
) {
    // `exec`: slots that run a process. `held`: attempts claimed and not finished — up to
    // twice `max_tasks` more than the slots, so that the next attempts are at hand when a slot
    // frees and claims go in batches instead of one round trip per finished task.
    let max = config.max_tasks;
    let exec = Arc::new(Semaphore::new(max));
    let held = Arc::new(Semaphore::new(max * 3));
    let batch = max;
    let slot_freed = Arc::new(tokio::sync::Notify::new());
    let mut failures = 0u32;
    while !cancel.is_cancelled() {
        let room = held.available_permits();
        let running_now = max - exec.available_permits();
        let waiting = (max * 3 - room).saturating_sub(running_now);
        // Claim when a slot would otherwise idle, or when a whole batch fits.
        let want = if exec.available_permits() > waiting || room >= batch {
            room
        } else {
            0
        };
        let mut claimed_all = false;
        if want > 0 {
            match claim(&store, &config, server_id, want as i64).await {
                Ok(tasks) => {
                    failures = 0;
                    claimed_all = tasks.len() == want;
                    for task in tasks {
                        let held_permit = held
                            .clone()
                            .try_acquire_owned()
                            .expect("room was counted before claiming");
                        let kill = CancellationToken::new();
                        running
                            .lock()
                            .expect("running lock")
                            .insert(task.id, (task.claim_token, kill.clone()));
                        running_count.fetch_add(1, Ordering::Relaxed);
                        let (shipper, running, running_count, slot_freed, config, exec) = (
                            shipper.clone(),
                            running.clone(),
                            running_count.clone(),
                            slot_freed.clone(),
                            config.clone(),
                            exec.clone(),
                        );
                        tokio::spawn(async move {
                            // The semaphore is fair: attempts start in the order claimed.
                            let exec_permit = exec
                                .acquire_owned()
                                .await
                                .expect("semaphore is never closed");
                            let id = task.id;
                            executor::run(&config, task, &shipper, kill).await;
                            running.lock().expect("running lock").remove(&id);
                            running_count.fetch_sub(1, Ordering::Relaxed);
                            drop(exec_permit);
                            drop(held_permit);
                            slot_freed.notify_one();
                        });
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "claiming tasks failed");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
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
            _ = cancel.cancelled() => break,
            _ = wakeups.task.notified(), if held.available_permits() > 0 => {}
            _ = slot_freed.notified() => {}
            _ = tokio::time::sleep(jittered(config.poll_interval.as_std())) => {}
        }
    }
}

async fn claim(
    store: &Store,
    config: &Config,
    server_id: i64,
    free: i64,
) -> Result<Vec<queue::ClaimedTask>> {
    let client = store.client().await?;
    queue::claim(
        &client,
        &config.worker_groups,
        free,
        &config.server_name,
        server_id,
    )
    .await
}

/// Kills attempts whose kill the master requested (woken by `pgdag_control`; also checked
/// on the poll while anything runs, in case a notification was lost).
async fn kill_watch(
    store: Store,
    server_id: i64,
    wakeups: Wakeups,
    running: Running,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wakeups.control.notified() => {}
            _ = tokio::time::sleep(jittered(std::time::Duration::from_secs(2))) => {
                if running.lock().expect("running lock").is_empty() { continue; }
            }
        }
        let requests = async {
            let client = store.client().await?;
            queue::kill_requests(&client, server_id).await
        }
        .await;
        match requests {
            Ok(requests) => {
                let running = running.lock().expect("running lock");
                for (id, token) in requests {
                    if let Some((held, kill)) = running.get(&id) {
                        if *held == token {
                            kill.cancel();
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading kill requests failed"),
        }
    }
}
