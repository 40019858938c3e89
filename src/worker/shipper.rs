//! The shipper: the only writer of a worker's task progress. Collects "started", output
//! lines and outcomes from the running attempts and writes whatever has accumulated in one
//! transaction (`store::queue::flush`): no fixed delay when idle, natural batching when
//! busy. While the worker is busy — its last write carried several outcomes and it holds
//! other attempts — a write waits until [`BUSY_WRITE_INTERVAL`] after the one before
//! began, so that outcomes ending close together share a transaction (and the master one
//! evaluation): the way Postgres's `commit_delay` waits when other transactions are active.
//! The wait ends early once the worker holds no attempt (every outcome that could join the
//! batch is in it). A chain's hop is never delayed: only one attempt is held then. Log
//! sequence numbers are assigned here, per task instance. A failed flush is retried with
//! backoff, keeping the batch, so nothing is lost while the database is away; writes
//! rejected by fencing (a newer claim exists) are counted and logged, not retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::cluster::Wakeups;
use crate::service::{self, Loop, Next, Round};
use crate::store::queue::{self, ClaimedTask, Completion, LogChunk, TaskAlert};
use crate::store::{Store, StoreError};

/// Largest log chunk written as one row.
const MAX_CHUNK_BYTES: usize = 64 * 1024;
/// While busy, the least time from the start of one write to the start of the next (see
/// the module's comment). A fan-out of 1,000 shell tasks on four slots wrote 269 flushes
/// of 3 to 4 outcomes and the master evaluated 254 times; with 10 ms, about 70 of each.
/// Waiting 6 ms took a quarter to a third off Postgres's CPU for it, 10 ms more again; 20 ms
/// halved the flushes and evaluations again (about 41 of each) and took a quarter to a
/// third off its statements' server time (30 ms was no better than 20).
pub const BUSY_WRITE_INTERVAL: Duration = Duration::from_millis(20);
/// Most messages taken into one flush.
const MAX_BATCH: usize = 5_000;
/// Most bytes of program output queued and not yet written; a task's output pump waits
/// beyond it (backpressure), so a worker's memory does not grow with its tasks' output.
pub const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;

enum Message {
    /// An attempt begins: its log numbering.
    Started {
        id: i64,
        next_seq: i32,
    },
    /// Its `running` mark; it began at `began`.
    Running {
        id: i64,
        token: Uuid,
        began: tokio::time::Instant,
    },
    Log {
        id: i64,
        token: Uuid,
        text: String,
        /// Held until the text is written (output pumps only).
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    Complete(Completion),
    Alert(TaskAlert),
}

#[derive(Clone)]
pub struct Shipper {
    tx: mpsc::UnboundedSender<Message>,
    /// One permit per queued byte of program output.
    queued: std::sync::Arc<tokio::sync::Semaphore>,
    /// Notified when the worker lets go of an attempt.
    released: Arc<Notify>,
}

impl Shipper {
    /// The shipper of a worker that holds `attempts_held` attempts (claimed and not
    /// finished; [`Shipper::released`] is called after each decrement).
    pub fn start(
        store: Store,
        clock: crate::clock::Clock,
        attempts_held: Arc<AtomicUsize>,
        wakeups: Wakeups,
        cancel: CancellationToken,
    ) -> (Shipper, impl std::future::Future<Output = ()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_QUEUED_BYTES));
        let released = Arc::new(Notify::new());
        let service = ShipperService {
            released: released.clone(),
            store,
            clock,
            rx,
            cancel,
            next_seq: HashMap::new(),
            pending: None,
            held: Vec::new(),
            failures: 0,
            attempts_held,
            wakeups,
            last_write: None,
            busy: false,
        };
        // The loop itself is never cancelled: after the process's cancellation the round
        // still writes what is queued, and ends the service once nothing is left.
        let lp = Loop::new(crate::service::rounds::SHIPPER, CancellationToken::new());
        (
            Shipper {
                tx,
                queued,
                released,
            },
            service::run(service, lp),
        )
    }
    /// The worker let go of an attempt (its count of attempts held went down): a write
    /// waiting for outcomes goes at once when none is held any more.
    pub fn released(&self) {
        self.released.notify_one();
    }
    /// The attempt begins; its `running` mark waits for [`Shipper::running`] (or is never
    /// written: its outcome sets `started_at` from how long it ran).
    pub fn started(&self, task: &ClaimedTask) {
        let _ = self.tx.send(Message::Started {
            id: task.id,
            next_seq: task.next_seq,
        });
    }
    /// Mark the attempt `running`; it began at `began` (its `started_at`, reckoned when
    /// the mark is written, so that a flush that waited does not move it).
    pub fn running(&self, task: &ClaimedTask, began: tokio::time::Instant) {
        let _ = self.tx.send(Message::Running {
            id: task.id,
            token: task.claim_token,
            began,
        });
    }
    pub fn log(&self, task: &ClaimedTask, text: String) {
        let _ = self.tx.send(Message::Log {
            id: task.id,
            token: task.claim_token,
            text,
            permit: None,
        });
    }
    /// As `log`, after waiting until the queue holds room for `text`.
    pub async fn log_waiting(&self, task: &ClaimedTask, text: String) {
        let bytes = text.len().clamp(1, MAX_QUEUED_BYTES) as u32;
        let permit = self.queued.clone().acquire_many_owned(bytes).await.ok();
        let _ = self.tx.send(Message::Log {
            id: task.id,
            token: task.claim_token,
            text,
            permit,
        });
    }
    /// An alert about the attempt (e.g. a timeout warning), written fenced by its token.
    pub fn alert(&self, task: &ClaimedTask, kind: &'static str, message: String) {
        let _ = self.tx.send(Message::Alert(TaskAlert {
            task_instance_id: task.id,
            claim_token: task.claim_token,
            kind,
            message,
        }));
    }
    pub fn complete(&self, completion: Completion) {
        let _ = self.tx.send(Message::Complete(completion));
    }
}

/// A failed write is retried this many times after the process was told to stop.
const FLUSH_TRIES_AFTER_STOP: u32 = 3;

struct ShipperService {
    store: Store,
    clock: crate::clock::Clock,
    rx: mpsc::UnboundedReceiver<Message>,
    /// The process is stopping: write what is queued, then end.
    cancel: CancellationToken,
    /// Next log sequence number per task instance.
    next_seq: HashMap<i64, i32>,
    /// A batch whose write failed, kept for the next round.
    pending: Option<Assembled>,
    /// The queue room the pending batch's output takes: given back once it is written.
    held: Vec<tokio::sync::OwnedSemaphorePermit>,
    failures: u32,
    /// Attempts the worker holds (claimed and not finished).
    attempts_held: Arc<AtomicUsize>,
    /// Notified after `attempts_held` went down.
    released: Arc<Notify>,
    /// This process's own wake-ups: its evaluator looks at once after outcomes commit.
    wakeups: Wakeups,
    /// When the last write began.
    last_write: Option<tokio::time::Instant>,
    /// The last write carried more than one outcome.
    busy: bool,
}

/// When a write may begin, given whether the last one carried more than one outcome
/// (`busy`), how many attempts the worker holds and when the last write began: at once,
/// unless the worker is busy and holds at least two, whose outcomes are then waited for
/// until `BUSY_WRITE_INTERVAL` after the last write began. The attempt whose outcome starts
/// this batch may or may not still be counted (its dispatcher lets go of it after sending
/// the outcome): either way a chain, which holds one attempt at most, never waits.
fn write_at(
    busy: bool,
    attempts_held: usize,
    last_write: Option<tokio::time::Instant>,
) -> Option<tokio::time::Instant> {
    if !busy || attempts_held < 2 {
        return None;
    }
    last_write.map(|at| at + BUSY_WRITE_INTERVAL)
}

/// Wait until `deadline` for the outcomes of the attempts still held, or until none is
/// held (looked at whenever the worker lets go of one): then every outcome that could join
/// the write has been sent — a dispatcher sends its outcome before it lets go of its
/// attempt — and the write goes at once. The last outcomes of a fan-out, or of a layer of
/// a DAG, do not wait for the interval.
async fn wait_for_outcomes(
    deadline: tokio::time::Instant,
    released: &Notify,
    attempts_held: &AtomicUsize,
) {
    let interval_over = tokio::time::sleep_until(deadline);
    tokio::pin!(interval_over);
    loop {
        tokio::select! {
            _ = &mut interval_over => return,
            _ = released.notified() => {
                if attempts_held.load(Ordering::SeqCst) == 0 {
                    return;
                }
            }
        }
    }
}

impl Round for ShipperService {
    /// Waits for messages, takes whatever has accumulated (up to `MAX_BATCH`) and writes it
    /// in one transaction; a failed write keeps the batch and fails the round, so the runner
    /// backs off and the next round writes the same batch again.
    async fn round(&mut self) -> Result<Next, StoreError> {
        if self.pending.is_none() {
            let first = tokio::select! {
                message = self.rx.recv() => match message { Some(m) => m, None => return Ok(Next::Done) },
                _ = self.cancel.cancelled() => match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(Next::Done),
                },
            };
            if let Some(at) = write_at(
                self.busy,
                self.attempts_held.load(Ordering::Relaxed),
                self.last_write,
            ) {
                wait_for_outcomes(at, &self.released, &self.attempts_held).await;
            }
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            // Room in the queue comes back once this batch is written.
            for message in &mut batch {
                if let Message::Log { permit, .. } = message
                    && let Some(p) = permit.take()
                {
                    self.held.push(p);
                }
            }
            let assembled = assemble(batch, &mut self.next_seq);
            if is_empty(&assembled) {
                // Only log numbering (an attempt began and has written nothing yet): no
                // transaction. Every attempt's start used to cost an empty one.
                return Ok(Next::Again);
            }
            self.pending = Some(assembled);
        }
        let (started, logs, alerts, completions) = self.pending.as_ref().expect("a batch");
        self.last_write = Some(tokio::time::Instant::now());
        let result = async {
            let mut client = self.store.client().await?;
            let marks: Vec<queue::RunningMark> = started
                .iter()
                .map(|m| queue::RunningMark {
                    task_instance_id: m.id,
                    claim_token: m.token,
                    ran_us: m.began.elapsed().as_micros().min(i64::MAX as u128) as i64,
                })
                .collect();
            queue::flush(
                &mut client,
                &marks,
                logs,
                alerts,
                completions,
                self.clock.now(),
                &self.wakeups.own,
            )
            .await
        }
        .await;
        match result {
            Ok(report) => {
                if report.rejected > 0 {
                    tracing::warn!(
                        rejected = report.rejected,
                        "writes of a fenced-out claim were rejected"
                    );
                }
                if !completions.is_empty() {
                    // The notification this flush sent is left to the other processes.
                    self.wakeups.outcomes_written();
                }
                for c in completions {
                    self.next_seq.remove(&c.task_instance_id);
                }
                self.busy = completions.len() > 1;
                self.pending = None;
                self.held.clear();
                self.failures = 0;
                Ok(Next::Again)
            }
            Err(e) => {
                self.failures += 1;
                if self.cancel.is_cancelled() && self.failures > FLUSH_TRIES_AFTER_STOP {
                    tracing::warn!(error = %e, "stopping with task progress not written");
                    return Ok(Next::Done);
                }
                Err(e)
            }
        }
    }
}

/// A `running` mark waiting for its flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    id: i64,
    token: Uuid,
    began: tokio::time::Instant,
}

type Assembled = (Vec<Mark>, Vec<LogChunk>, Vec<TaskAlert>, Vec<Completion>);

/// Nothing to write: no mark, line, alert or outcome.
fn is_empty((marks, logs, alerts, completions): &Assembled) -> bool {
    marks.is_empty() && logs.is_empty() && alerts.is_empty() && completions.is_empty()
}

/// Turn messages into rows: consecutive lines of one task become one chunk.
fn assemble(batch: Vec<Message>, next_seq: &mut HashMap<i64, i32>) -> Assembled {
    let mut started = Vec::new();
    let mut logs: Vec<LogChunk> = Vec::new();
    let mut completions = Vec::new();
    let mut alerts = Vec::new();
    let mut open: HashMap<i64, usize> = HashMap::new(); // task -> index of its open chunk
    for message in batch {
        match message {
            Message::Started { id, next_seq: seq } => {
                next_seq.insert(id, seq);
            }
            Message::Running { id, token, began } => started.push(Mark { id, token, began }),
            Message::Log {
                id, token, text, ..
            } => {
                if let Some(&at) = open.get(&id) {
                    let chunk = &mut logs[at];
                    if chunk.claim_token == token
                        && chunk.text.len() + text.len() <= MAX_CHUNK_BYTES
                    {
                        chunk.text.push_str(&text);
                        continue;
                    }
                }
                let seq = next_seq.entry(id).or_insert(0);
                logs.push(LogChunk {
                    task_instance_id: id,
                    claim_token: token,
                    seq: *seq,
                    text,
                });
                *seq += 1;
                open.insert(id, logs.len() - 1);
            }
            Message::Complete(c) => completions.push(c),
            Message::Alert(a) => alerts.push(a),
        }
    }
    // An attempt that also ends in this batch needs no separate "running" write: the
    // outcome sets `started_at` too.
    let ending: std::collections::HashSet<i64> = completions
        .iter()
        .map(|c: &Completion| c.task_instance_id)
        .collect();
    started.retain(|m| !ending.contains(&m.id));
    (started, logs, alerts, completions)
}

/// One attempt's log lines, held back as one chunk until the attempt ends, has run for
/// the `running` mark's delay, or holds a chunk's worth: most attempts (a statement, a
/// request, a short script) end sooner, and their whole log then goes in the flush that
/// writes their outcome, one row, instead of a first line in a flush of its own (a
/// fan-out of 1,000 shell tasks spent 299 of its 657 transactions on such flushes).
/// After [`HeldLog::release`] lines pass straight through.
pub struct HeldLog {
    shipper: Shipper,
    /// `None` once released.
    held: std::sync::Mutex<Option<String>>,
}

impl HeldLog {
    pub fn new(shipper: Shipper) -> HeldLog {
        HeldLog {
            shipper,
            held: std::sync::Mutex::new(Some(String::new())),
        }
    }

    /// Send what is held; later lines pass straight through.
    pub fn release(&self, task: &ClaimedTask) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(text) = held.take()
            && !text.is_empty()
        {
            // Sent under the lock: no line logged meanwhile can overtake it.
            self.shipper.log(task, text);
        }
    }

    /// Holds `text` if there is room; otherwise sends what was held (under the lock, so in
    /// order) and gives `text` back to be sent by the caller.
    fn hold(&self, task: &ClaimedTask, text: String) -> Option<String> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let Some(buffer) = held.as_mut() else {
            return Some(text);
        };
        if buffer.len() + text.len() <= MAX_CHUNK_BYTES {
            buffer.push_str(&text);
            return None;
        }
        let before = std::mem::take(buffer);
        *held = None;
        if !before.is_empty() {
            self.shipper.log(task, before);
        }
        Some(text)
    }
}

impl crate::tasks::LogSink for HeldLog {
    fn log(&self, task: &ClaimedTask, text: String) {
        if let Some(text) = self.hold(task, text) {
            self.shipper.log(task, text)
        }
    }
    fn log_waiting<'a>(
        &'a self,
        task: &'a ClaimedTask,
        text: String,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        let rest = self.hold(task, text);
        Box::pin(async move {
            if let Some(text) = rest {
                self.shipper.log_waiting(task, text).await
            }
        })
    }
}

impl crate::tasks::LogSink for Shipper {
    fn log(&self, task: &ClaimedTask, text: String) {
        Shipper::log(self, task, text)
    }
    fn log_waiting<'a>(
        &'a self,
        task: &'a ClaimedTask,
        text: String,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(Shipper::log_waiting(self, task, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_worker_waits_for_more_outcomes_and_a_lone_attempt_never_waits() {
        let last = tokio::time::Instant::now();
        // Busy, and other attempts held: the next write begins an interval after the last.
        assert_eq!(
            write_at(true, 4, Some(last)),
            Some(last + BUSY_WRITE_INTERVAL)
        );
        assert_eq!(
            write_at(true, 2, Some(last)),
            Some(last + BUSY_WRITE_INTERVAL)
        );
        // A chain: the attempt that ends is the only one held.
        assert_eq!(write_at(true, 1, Some(last)), None);
        assert_eq!(write_at(true, 0, Some(last)), None);
        // The last write carried one outcome: attempts end apart, waiting gains nothing.
        assert_eq!(write_at(false, 4, Some(last)), None);
        // The first write.
        assert_eq!(write_at(true, 4, None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_for_outcomes_ends_when_no_attempt_is_held_or_at_the_interval() {
        let (released, held) = (Notify::new(), AtomicUsize::new(3));
        let start = tokio::time::Instant::now();
        let deadline = start + BUSY_WRITE_INTERVAL;
        let wait = wait_for_outcomes(deadline, &released, &held);
        tokio::pin!(wait);
        assert!(futures_util::poll!(&mut wait).is_pending());
        // One attempt let go, two still held: their outcomes are worth waiting for.
        held.store(2, Ordering::SeqCst);
        released.notify_one();
        assert!(futures_util::poll!(&mut wait).is_pending());
        // The last ones let go: nothing more can come, the write goes now.
        held.store(0, Ordering::SeqCst);
        released.notify_one();
        assert!(futures_util::poll!(&mut wait).is_ready());
        assert_eq!(tokio::time::Instant::now(), start, "no time passed");

        // Attempts still held: the wait ends at the interval.
        held.store(2, Ordering::SeqCst);
        let wait = wait_for_outcomes(deadline, &released, &held);
        tokio::pin!(wait);
        assert!(futures_util::poll!(&mut wait).is_pending());
        tokio::time::advance(BUSY_WRITE_INTERVAL).await;
        assert!(futures_util::poll!(&mut wait).is_ready());
    }

    #[test]
    fn lines_of_one_task_merge_into_one_chunk_with_increasing_seq() {
        let token = Uuid::new_v4();
        let mut seqs = HashMap::new();
        let batch = vec![
            Message::Started { id: 1, next_seq: 5 },
            Message::Started { id: 3, next_seq: 2 },
            Message::Log {
                id: 1,
                token,
                text: "a\n".into(),
                permit: None,
            },
            Message::Log {
                id: 2,
                token,
                text: "x\n".into(),
                permit: None,
            },
            Message::Log {
                id: 1,
                token,
                text: "b\n".into(),
                permit: None,
            },
        ];
        let (started, logs, _, _) = assemble(batch, &mut seqs);
        assert!(started.is_empty(), "no mark before it is asked for");
        assert_eq!(logs.len(), 2);
        assert_eq!((logs[0].seq, logs[0].text.as_str()), (5, "a\nb\n"));
        assert_eq!((logs[1].task_instance_id, logs[1].seq), (2, 0));
        // An attempt numbers its lines from its claim, and its mark, once asked for, is
        // written with the time it began.
        let began = tokio::time::Instant::now();
        let (started, logs, _, _) = assemble(
            vec![
                Message::Log {
                    id: 1,
                    token,
                    text: "c\n".into(),
                    permit: None,
                },
                Message::Log {
                    id: 3,
                    token,
                    text: "z\n".into(),
                    permit: None,
                },
                Message::Running {
                    id: 3,
                    token,
                    began,
                },
            ],
            &mut seqs,
        );
        assert_eq!(logs[0].seq, 6);
        assert_eq!((logs[1].task_instance_id, logs[1].seq), (3, 2));
        assert_eq!(
            started,
            vec![Mark {
                id: 3,
                token,
                began
            }]
        );
    }
}
