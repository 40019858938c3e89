//! The fetcher: claims attempts for this worker's groups and hands them to dispatchers.
//!
//! Owns the worker's capacity, in two kinds: `max_tasks` slots that run a process (`shell`,
//! `python`...) and `max_async_tasks` slots for attempts that run inside this process
//! (`sql`, `procedure`, `http`: a statement or a request costs a task, not a process). On
//! top of each kind's slots it holds `prefetch ×` as many attempts claimed ahead, so that
//! the next attempts are at hand when a slot frees and claims go in batches instead of one
//! round trip per task. A round claims, for each kind, when one of its slots would
//! otherwise idle or a whole batch fits, both kinds in one statement (`SKIP LOCKED`, the
//! queue's priority order within each kind). Claimed attempts wait in their kind's
//! [`LocalQueue`]; one dispatcher per attempt takes the best waiting one when it gets a
//! slot. Woken by `pgdag_task`, by a freed slot and by the fallback poll. A kind whose
//! last claim came back short is not claimed again until a `pgdag_task` has come since
//! that claim began, or a poll interval has passed ([`Drained`]): in a fan-out of shell
//! tasks every freed slot used to send a claim for `sql` attempts that were never queued.
//!
//! How it fails: a failed claim is retried after the runner's backoff; running attempts go
//! on. While the process is fenced it claims nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// Attempts that run in this process (`sql`, `procedure`, `http`) at once.
    pub max_async_tasks: usize,
    /// Attempts claimed ahead, in multiples of each kind's slots.
    pub prefetch: usize,
    pub worker_groups: Vec<String>,
    /// The `host` recorded on the attempts it claims.
    pub server_name: String,
    /// Fallback poll for a lost `pgdag_task`.
    pub poll_interval: Duration,
    /// `pgdag_task` is listened for (not `PGDAG_POLL_ONLY`): only then can a kind whose
    /// claim came back short wait for a notice ([`Drained`]).
    pub listening: bool,
}

impl FetcherConfig {
    pub const DEFAULT_PREFETCH: usize = 4;

    /// The process slots and what is held for them.
    pub fn processes(&self) -> Capacity {
        Capacity {
            slots: self.max_tasks,
            prefetch: self.prefetch,
        }
    }

    /// The in-process slots and what is held for them: one batch ahead (they are many,
    /// and an attempt claimed ahead is one that another worker cannot take).
    pub fn in_process(&self) -> Capacity {
        Capacity {
            slots: self.max_async_tasks,
            prefetch: self.prefetch.min(1),
        }
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.max_tasks == 0
            || self.max_async_tasks == 0
            || self.worker_groups.is_empty()
            || self.poll_interval.is_zero()
        {
            return Err(format!(
                "worker: max_tasks, max_async_tasks, worker groups and poll must not be empty or zero ({self:?})"
            ));
        }
        Ok(())
    }
}

/// One kind of slot: how many run at once, and how many more are claimed ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub slots: usize,
    /// Attempts claimed ahead, in multiples of `slots`.
    pub prefetch: usize,
}

impl Capacity {
    /// Attempts held at most: running plus claimed ahead.
    pub fn held(&self) -> usize {
        self.slots * (1 + self.prefetch)
    }

    /// The least a claim takes when no slot would idle: the room left while every slot
    /// runs and as many attempts again wait for one, and at least `slots`. With the
    /// default prefetch a claim of process attempts takes three times the slots, a slot's
    /// worth still waiting: a fan-out of 1,000 shell tasks on four slots sent 84 claims,
    /// against 125 with twice the slots and 250 with the slots.
    pub fn batch(&self) -> usize {
        self.slots * self.prefetch.saturating_sub(1).max(1)
    }
}

/// How many attempts of one kind to claim now: all the room there is when a slot would
/// otherwise idle (more free slots than attempts waiting for one) or when a whole batch
/// ([`Capacity::batch`]) fits; nothing otherwise, so that claims go in batches.
pub fn claim_size(capacity: Capacity, free: usize, held_free: usize, healthy: bool) -> usize {
    if !healthy {
        return 0;
    }
    let running = capacity.slots.saturating_sub(free);
    let waiting = capacity
        .held()
        .saturating_sub(held_free)
        .saturating_sub(running);
    if free > waiting || held_free >= capacity.batch() {
        held_free
    } else {
        0
    }
}

/// Whether the queue may hold attempts of one kind for this worker. A claim that comes
/// back short saw every attempt of its kind that was committed and not being claimed by
/// another worker; more can only come from a commit that sends `pgdag_task` (every
/// statement that queues does), so the kind is not claimed again until a notice has come
/// since that claim began. The poll, there for lost notices, lifts it too.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained(Option<(u64, Instant)>);

impl Drained {
    /// Whether to claim this kind, with `notices` counted so far.
    pub fn may_claim(&self, notices: u64, now: Instant, poll: Duration) -> bool {
        match self.0 {
            None => true,
            // Three quarters: the poll is jittered down to 80 % of its interval.
            Some((seen, at)) => seen != notices || now.duration_since(at) >= poll * 3 / 4,
        }
    }

    /// After a claim that began with `notices` counted at `began`.
    pub fn claimed(&mut self, notices: u64, began: Instant, asked: usize, got: usize) {
        if asked > 0 {
            self.0 = (got < asked).then_some((notices, began));
        }
    }
}

/// The slots, held room and waiting attempts of one kind.
#[derive(Clone)]
pub(super) struct Lane {
    /// Slots that run an attempt of this kind.
    pub slots: Arc<Semaphore>,
    /// Attempts of this kind claimed and not finished.
    pub held: Arc<Semaphore>,
    pub local: LocalQueue<Pending>,
}

impl Lane {
    fn new(capacity: Capacity) -> Lane {
        Lane {
            slots: Arc::new(Semaphore::new(capacity.slots)),
            held: Arc::new(Semaphore::new(capacity.held())),
            local: LocalQueue::default(),
        }
    }

    fn want(&self, capacity: Capacity, healthy: bool) -> usize {
        claim_size(
            capacity,
            self.slots.available_permits(),
            self.held.available_permits(),
            healthy,
        )
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
    /// Attempts that run a process.
    pub processes: Lane,
    /// Attempts that run in this process.
    pub in_process: Lane,
    /// Notified when a slot frees: the fetcher's second wake-up.
    pub slot_freed: Arc<Notify>,
    /// `pgdag_task` notices so far (`Wakeups::task_notices`).
    pub task_notices: Arc<AtomicU64>,
    pub processes_drained: Drained,
    pub in_process_drained: Drained,
}

impl Fetcher {
    pub fn new(
        store: Store,
        config: FetcherConfig,
        membership: Membership,
        shipper: shipper::Shipper,
        running: Running,
        resources: Arc<crate::tasks::Resources>,
        task_notices: Arc<AtomicU64>,
    ) -> Fetcher {
        Fetcher {
            idle: Arc::new(Notify::new()),
            task_notices,
            processes_drained: Drained::default(),
            in_process_drained: Drained::default(),
            processes: Lane::new(config.processes()),
            in_process: Lane::new(config.in_process()),
            slot_freed: Arc::new(Notify::new()),
            store,
            config,
            membership,
            shipper,
            running,
            resources,
        }
    }

    async fn claim(&self, limit: i64, in_process_limit: i64) -> Result<Vec<queue::ClaimedTask>> {
        let client = self.store.client().await?;
        queue::claim(
            &client,
            &self.config.worker_groups,
            limit,
            in_process_limit,
            &self.config.server_name,
            self.membership.server_id(),
        )
        .await
    }

    /// Hand a claimed attempt to the local queue; its dispatcher starts the best waiting
    /// attempt when it gets a slot.
    fn spawn(&self, task: queue::ClaimedTask, lane: &Lane, held_permit: OwnedSemaphorePermit) {
        let stop = Stop::default();
        self.running
            .lock()
            .expect("running lock")
            .insert(task.id, (task.claim_token, stop.clone()));
        self.membership
            .running_tasks()
            .fetch_add(1, Ordering::Relaxed);
        lane.local.push(
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
            lane.local.clone(),
            lane.slots.clone(),
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
            count.fetch_sub(1, Ordering::SeqCst);
            shipper.released();
            drop(exec_permit);
            drop(held_permit);
            slot_freed.notify_one();
            idle.notify_one();
        });
    }
}

/// How often a fenced worker looks whether it may claim again.
const FENCED_RECHECK: Duration = Duration::from_secs(1);

/// Whether an attempt of this type takes an in-process slot.
fn in_process(task: &queue::ClaimedTask) -> bool {
    task.task_type
        .parse::<crate::model::TaskType>()
        .is_ok_and(|t| t.runs_in_process())
}

impl Round for Fetcher {
    async fn round(&mut self) -> Result<Next> {
        let healthy = self.membership.is_healthy();
        if !healthy {
            // Nothing signals the end of a fence: look again soon (no query is made while
            // fenced), not at the fallback poll.
            self.processes_drained = Drained::default();
            self.in_process_drained = Drained::default();
            return Ok(Next::In(FENCED_RECHECK));
        }
        // Read before the claim's snapshot is taken: a notice counted after this read
        // lifts what this claim finds.
        let notices = self.task_notices.load(Ordering::SeqCst);
        let began = Instant::now();
        let poll = self.config.poll_interval;
        let listening = self.config.listening;
        let mut want = self.processes.want(self.config.processes(), healthy);
        if listening && !self.processes_drained.may_claim(notices, began, poll) {
            want = 0;
        }
        let mut want_in_process = self.in_process.want(self.config.in_process(), healthy);
        if listening && !self.in_process_drained.may_claim(notices, began, poll) {
            want_in_process = 0;
        }
        if want == 0 && want_in_process == 0 {
            return Ok(Next::Idle);
        }
        let tasks = self.claim(want as i64, want_in_process as i64).await?;
        crate::metrics::add(&crate::metrics::CLAIMS, tasks.len() as u64);
        let (mut got, mut got_in_process) = (0, 0);
        for task in tasks {
            let lane = if in_process(&task) {
                got_in_process += 1;
                self.in_process.clone()
            } else {
                got += 1;
                self.processes.clone()
            };
            let held_permit = lane
                .held
                .clone()
                .try_acquire_owned()
                .expect("room was counted before claiming");
            self.spawn(task, &lane, held_permit);
        }
        self.processes_drained.claimed(notices, began, want, got);
        self.in_process_drained
            .claimed(notices, began, want_in_process, got_in_process);
        // A full claim of either kind: there may be more.
        let full =
            (want > 0 && got == want) || (want_in_process > 0 && got_in_process == want_in_process);
        Ok(if full { Next::Again } else { Next::Idle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_tasks: usize) -> FetcherConfig {
        FetcherConfig {
            max_tasks,
            max_async_tasks: 256,
            prefetch: FetcherConfig::DEFAULT_PREFETCH,
            worker_groups: vec!["default".into()],
            server_name: "test".into(),
            poll_interval: Duration::from_secs(1),
            listening: true,
        }
    }

    #[test]
    fn an_idle_worker_claims_all_its_room() {
        let c = config(4).processes();
        assert_eq!(c.held(), 20);
        assert_eq!(claim_size(c, 4, 20, true), 20);
    }

    #[test]
    fn a_fenced_worker_claims_nothing() {
        assert_eq!(claim_size(config(4).processes(), 4, 20, false), 0);
    }

    #[test]
    fn a_free_slot_with_nothing_waiting_for_it_claims_at_once() {
        let c = config(4).processes();
        // 3 running, none waiting locally, 1 slot free: claim the 17 free places.
        assert_eq!(claim_size(c, 1, 17, true), 17);
    }

    #[test]
    fn attempts_waiting_for_slots_defer_small_claims() {
        let c = config(4).processes();
        assert_eq!(c.batch(), 12, "three times the slots");
        // 4 running and 5 waiting locally: 11 places free, less than a batch of 12.
        assert_eq!(claim_size(c, 0, 11, true), 0);
        // A whole batch fits again, 4 still waiting: claim.
        assert_eq!(claim_size(c, 0, 12, true), 12);
        // A slot frees but more than one attempt waits for it: no claim yet.
        assert_eq!(claim_size(c, 1, 10, true), 0);
    }

    #[test]
    fn a_batch_is_at_least_the_slots() {
        let with = |prefetch| Capacity { slots: 4, prefetch };
        assert_eq!(with(1).batch(), 4);
        assert_eq!(with(2).batch(), 4);
        assert_eq!(with(3).batch(), 8);
        assert_eq!(with(4).batch(), 12);
        assert_eq!(with(0).batch(), 4);
    }

    #[test]
    fn in_process_slots_are_counted_apart_from_process_slots() {
        let c = config(4);
        let (processes, in_process) = (c.processes(), c.in_process());
        assert_eq!(in_process.held(), 512);
        // Every process slot busy with 8 more waiting: no process claim, but the idle
        // in-process slots claim all their room.
        assert_eq!(claim_size(processes, 0, 0, true), 0);
        assert_eq!(claim_size(in_process, 256, 512, true), 512);
        // 256 statements running, 244 waiting: 12 places free is less than a batch.
        assert_eq!(claim_size(in_process, 0, 12, true), 0);
        // 256 finished: a batch fits again.
        assert_eq!(claim_size(in_process, 0, 256, true), 256);
    }

    #[test]
    fn a_short_claim_waits_for_a_notice_or_the_poll() {
        let poll = Duration::from_secs(30);
        let t0 = Instant::now();
        let mut d = Drained::default();
        assert!(d.may_claim(5, t0, poll), "nothing claimed yet");
        d.claimed(5, t0, 12, 12);
        assert!(d.may_claim(5, t0, poll), "a full claim: there may be more");
        d.claimed(5, t0, 12, 3);
        assert!(!d.may_claim(5, t0 + Duration::from_millis(1), poll));
        assert!(
            d.may_claim(6, t0 + Duration::from_millis(1), poll),
            "a notice came since the claim began"
        );
        assert!(
            d.may_claim(5, t0 + poll * 4 / 5, poll),
            "the earliest jittered poll lifts it"
        );
        d.claimed(6, t0, 0, 0);
        assert!(
            !d.may_claim(5, t0, poll),
            "a round that did not claim this kind leaves it as it was"
        );
        d.claimed(6, t0, 4, 0);
        assert!(!d.may_claim(6, t0, poll));
        assert!(d.may_claim(7, t0, poll));
        d.claimed(7, t0, 4, 4);
        assert!(d.may_claim(7, t0, poll));
    }

    #[test]
    fn the_config_refuses_zero_capacity() {
        let mut c = config(0);
        assert!(c.validate().is_err());
        c.max_tasks = 2;
        assert!(c.validate().is_ok());
        c.max_async_tasks = 0;
        assert!(c.validate().is_err());
        c.max_async_tasks = 1;
        c.worker_groups.clear();
        assert!(c.validate().is_err());
    }
}
