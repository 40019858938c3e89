//! The fetcher: claims attempts for this worker's groups and hands them to dispatchers.
//!
//! Owns the worker's capacity: `max_tasks` slots that run a process (`exec`) and, on top of
//! them, room for `prefetch × max_tasks` attempts claimed ahead (`held`), so that the next
//! attempts are at hand when a slot frees and claims go in batches instead of one round
//! trip per task. A round claims when a slot would otherwise idle or a whole batch fits,
//! in one statement (`SKIP LOCKED`, the queue's priority order). Claimed attempts wait in
//! the [`LocalQueue`]; one dispatcher per attempt takes the best waiting one when it gets a
//! slot. Woken by `pgdag_task`, by a freed slot and by the fallback poll.
//!
//! How it fails: a failed claim is retried after the runner's backoff; running attempts go
//! on. While the process is fenced it claims nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::local_queue::LocalQueue;
use super::{Running, Stop, executor, shipper};
use crate::cluster::Membership;
use crate::service::{Next, Round};
use crate::store::{Result, Store, queue};

/// The fetcher's settings.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// Attempts that run a process at once.
    pub max_tasks: usize,
    /// Attempts claimed ahead, in multiples of `max_tasks`.
    pub prefetch: usize,
    pub worker_groups: Vec<String>,
    /// The `host` recorded on the attempts it claims.
    pub server_name: String,
    /// Fallback poll for a lost `pgdag_task`.
    pub poll_interval: Duration,
}

impl FetcherConfig {
    pub const DEFAULT_PREFETCH: usize = 2;

    /// Attempts held at most: running plus claimed ahead.
    pub fn held_capacity(&self) -> usize {
        self.max_tasks * (1 + self.prefetch)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.max_tasks == 0 || self.worker_groups.is_empty() || self.poll_interval.is_zero() {
            return Err(format!(
                "worker: max_tasks, worker groups and poll must not be empty or zero ({self:?})"
            ));
        }
        Ok(())
    }
}

/// How many attempts to claim now: all the room there is when a slot would otherwise
/// idle (more free slots than attempts waiting for one) or when a whole batch
/// (`max_tasks`) fits; nothing otherwise, so that claims go in batches.
pub fn claim_size(
    config: &FetcherConfig,
    exec_free: usize,
    held_free: usize,
    healthy: bool,
) -> usize {
    if !healthy {
        return 0;
    }
    let running = config.max_tasks.saturating_sub(exec_free);
    let waiting = config
        .held_capacity()
        .saturating_sub(held_free)
        .saturating_sub(running);
    if exec_free > waiting || held_free >= config.max_tasks {
        held_free
    } else {
        0
    }
}

/// A claimed attempt waiting for a slot.
pub(super) struct Pending {
    task: queue::ClaimedTask,
    stop: Stop,
    held_permit: OwnedSemaphorePermit,
}

pub(super) struct Fetcher {
    pub store: Store,
    pub config: FetcherConfig,
    pub membership: Membership,
    pub shipper: shipper::Shipper,
    pub running: Running,
    pub resources: Arc<crate::tasks::Resources>,
    /// Notified whenever an attempt ends (the graceful drain waits on it).
    pub idle: Arc<Notify>,
    pub local: LocalQueue<Pending>,
    /// Slots that run a process.
    pub exec: Arc<Semaphore>,
    /// Attempts claimed and not finished.
    pub held: Arc<Semaphore>,
    /// Notified when a slot frees: the fetcher's second wake-up.
    pub slot_freed: Arc<Notify>,
}

impl Fetcher {
    pub fn new(
        store: Store,
        config: FetcherConfig,
        membership: Membership,
        shipper: shipper::Shipper,
        running: Running,
        resources: Arc<crate::tasks::Resources>,
        idle: Arc<Notify>,
    ) -> Fetcher {
        Fetcher {
            exec: Arc::new(Semaphore::new(config.max_tasks)),
            held: Arc::new(Semaphore::new(config.held_capacity())),
            slot_freed: Arc::new(Notify::new()),
            local: LocalQueue::default(),
            store,
            config,
            membership,
            shipper,
            running,
            resources,
            idle,
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

    /// Hand a claimed attempt to the local queue; its dispatcher starts the best waiting
    /// attempt when it gets a slot.
    fn spawn(&self, task: queue::ClaimedTask, held_permit: OwnedSemaphorePermit) {
        let stop = Stop::default();
        self.running
            .lock()
            .expect("running lock")
            .insert(task.id, (task.claim_token, stop.clone()));
        self.membership
            .running_tasks()
            .fetch_add(1, Ordering::Relaxed);
        self.local.push(
            task.order_key,
            Pending {
                task,
                stop,
                held_permit,
            },
        );
        // One dispatcher per claimed attempt keeps the code simple: each takes the best
        // attempt waiting when it gets a slot, so the order is the queue's.
        let (local, exec, slot_freed) = (
            self.local.clone(),
            self.exec.clone(),
            self.slot_freed.clone(),
        );
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
            // Log lines of the attempt carry its ids (as fields of JSON lines).
            let span = tracing::info_span!(
                "attempt",
                instance_id = task.workflow_instance_id,
                task_instance_id = task.id
            );
            tracing::Instrument::instrument(executor::run(&resources, task, &shipper, &stop), span)
                .await;
            running.lock().expect("running lock").remove(&id);
            count.fetch_sub(1, Ordering::Relaxed);
            drop(exec_permit);
            drop(held_permit);
            slot_freed.notify_one();
            idle.notify_one();
        });
    }
}

impl Round for Fetcher {
    async fn round(&mut self) -> Result<Next> {
        let want = claim_size(
            &self.config,
            self.exec.available_permits(),
            self.held.available_permits(),
            self.membership.is_healthy(),
        );
        if want == 0 {
            return Ok(Next::Idle);
        }
        let tasks = self.claim(want as i64).await?;
        crate::metrics::add(&crate::metrics::CLAIMS, tasks.len() as u64);
        let claimed_all = tasks.len() == want;
        for task in tasks {
            let held_permit = self
                .held
                .clone()
                .try_acquire_owned()
                .expect("room was counted before claiming");
            self.spawn(task, held_permit);
        }
        // A full claim: there may be more.
        Ok(if claimed_all { Next::Again } else { Next::Idle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_tasks: usize) -> FetcherConfig {
        FetcherConfig {
            max_tasks,
            prefetch: FetcherConfig::DEFAULT_PREFETCH,
            worker_groups: vec!["default".into()],
            server_name: "test".into(),
            poll_interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn an_idle_worker_claims_all_its_room() {
        let c = config(4);
        assert_eq!(c.held_capacity(), 12);
        assert_eq!(claim_size(&c, 4, 12, true), 12);
    }

    #[test]
    fn a_fenced_worker_claims_nothing() {
        assert_eq!(claim_size(&config(4), 4, 12, false), 0);
    }

    #[test]
    fn a_free_slot_with_nothing_waiting_for_it_claims_at_once() {
        let c = config(4);
        // 3 running, none waiting locally, 1 slot free: claim the 9 free places.
        assert_eq!(claim_size(&c, 1, 9, true), 9);
    }

    #[test]
    fn attempts_waiting_for_slots_defer_small_claims() {
        let c = config(4);
        // 4 running and 5 waiting locally: 3 places free, less than a batch of 4.
        assert_eq!(claim_size(&c, 0, 3, true), 0);
        // A whole batch fits again: claim.
        assert_eq!(claim_size(&c, 0, 4, true), 4);
        // A slot frees but more than one attempt waits for it: no claim yet.
        assert_eq!(claim_size(&c, 1, 2, true), 0);
    }

    #[test]
    fn the_config_refuses_zero_capacity() {
        let mut c = config(0);
        assert!(c.validate().is_err());
        c.max_tasks = 2;
        assert!(c.validate().is_ok());
        c.worker_groups.clear();
        assert!(c.validate().is_err());
    }
}
