//! The one loop every background service of a role runs in.
//!
//! A service is a [`Round`]: one pass of work (claim what is due and act on it) that says
//! when the next is due. [`run`] owns everything around the rounds, the same way for every
//! service: waiting for the earliest of a wake-up (a `LISTEN` notification turned into a
//! `Notify`), the service's own next due time and a jittered fallback poll; exponential
//! backoff after a failed round (the error is logged with the service's name, never
//! propagated: a service outlives database outages); stopping when its cancellation token
//! fires; and a count of completed rounds that tests await (a test that proves something
//! did *not* happen waits until the round that would have done it has run).
//!
//! "Due now" after a round that took all it could means the rest is held by another
//! process (a row skipped by `SKIP LOCKED`): the loop then looks again after
//! [`HELD_WORK_RECHECK`], never in a busy loop of empty transactions.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::select_all;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::StoreError;

pub mod rounds;
pub use rounds::Rounds;

/// `base` ± 20 %, so that many processes polling at the same interval spread out.
pub fn jittered(base: Duration) -> Duration {
    let factor = 0.8 + fastrand::f64() * 0.4;
    base.mul_f64(factor)
}

/// Exponential backoff after failures (reconnects, failed rounds): 100 ms doubling to 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << attempt.min(6)).min(5_000);
    jittered(Duration::from_millis(ms))
}

/// How soon to look again at work that is due but held by another process.
pub const HELD_WORK_RECHECK: Duration = Duration::from_millis(50);

/// What a round says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// More may be waiting: run again at once.
    Again,
    /// The next work is due in this long (zero: due but held by someone else).
    In(Duration),
    /// Nothing waits: sleep until a wake-up or the fallback poll.
    Idle,
    /// The service has ended (e.g. a leader whose term is gone).
    Done,
}

impl Next {
    /// From "milliseconds until the next work is due" as the store reports it (negative:
    /// overdue), `None` when nothing waits.
    pub fn due_in_ms(ms: Option<f64>) -> Next {
        match ms {
            None => Next::Idle,
            Some(ms) => Next::In(Duration::from_millis(ms.max(0.0) as u64)),
        }
    }
}

/// One pass of a service's work.
pub trait Round: Send {
    fn round(&mut self) -> impl Future<Output = Result<Next, StoreError>> + Send;
}

/// A service borrowed for the length of a loop, so its owner reads its state afterwards.
impl<T: Round> Round for &mut T {
    fn round(&mut self) -> impl Future<Output = Result<Next, StoreError>> + Send {
        (**self).round()
    }
}

/// How a service's loop waits between rounds.
#[derive(Clone)]
pub struct Loop {
    /// Named in log lines and in the round counter.
    pub name: &'static str,
    /// Fallback poll (jittered ± 20 %) for lost notifications; `None`: the service runs only
    /// when woken or when its own next due time comes.
    pub poll: Option<Duration>,
    /// Wake-ups that start a round at once.
    pub wakes: Vec<Arc<Notify>>,
    pub cancel: CancellationToken,
    pub rounds: Rounds,
}

impl Loop {
    pub fn new(name: &'static str, cancel: CancellationToken) -> Loop {
        Loop {
            name,
            poll: None,
            wakes: Vec::new(),
            cancel,
            rounds: Rounds::default(),
        }
    }

    pub fn poll(mut self, every: Duration) -> Loop {
        self.poll = Some(every);
        self
    }

    pub fn woken_by(mut self, wake: &Arc<Notify>) -> Loop {
        self.wakes.push(wake.clone());
        self
    }

    pub fn counted(mut self, rounds: &Rounds) -> Loop {
        self.rounds = rounds.clone();
        self
    }

    /// How long to sleep after a successful round.
    fn wait_after(&self, next: Next) -> Option<Duration> {
        let poll = self.poll.map(jittered);
        match next {
            Next::Again => Some(Duration::ZERO),
            Next::In(d) if d.is_zero() => {
                Some(poll.map_or(HELD_WORK_RECHECK, |p| p.min(HELD_WORK_RECHECK)))
            }
            Next::In(d) => Some(poll.map_or(d, |p| p.min(d))),
            Next::Idle => poll,
            Next::Done => None,
        }
    }
}

/// Run `service` until its loop is cancelled or a round says [`Next::Done`].
pub async fn run(mut service: impl Round, lp: Loop) {
    let mut failures = 0u32;
    while !lp.cancel.is_cancelled() {
        let counted = lp.rounds.begin(lp.name);
        let sleep = match service.round().await {
            Ok(Next::Done) => {
                counted.done();
                return;
            }
            Ok(next) => {
                counted.done();
                failures = 0;
                lp.wait_after(next)
            }
            Err(e) => {
                // A failed round is not counted: a test waiting for a round waits for one
                // that did its work.
                failures += 1;
                tracing::warn!(service = lp.name, error = %e, failures, "round failed; backing off");
                Some(backoff(failures))
            }
        };
        if sleep == Some(Duration::ZERO) {
            continue;
        }
        wait(&lp, sleep, failures > 0).await;
    }
}

/// Sleep for `sleep` (forever when `None`), cut short by cancellation or, unless backing
/// off after a failure, by a wake-up.
async fn wait(lp: &Loop, sleep: Option<Duration>, backing_off: bool) {
    let timer = async {
        match sleep {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let woken = async {
        if backing_off || lp.wakes.is_empty() {
            std::future::pending::<()>().await;
        }
        let notified: Vec<_> = lp.wakes.iter().map(|w| Box::pin(w.notified())).collect();
        select_all(notified).await;
    };
    tokio::select! {
        _ = lp.cancel.cancelled() => {}
        _ = timer => {}
        _ = woken => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Scripted {
        answers: Vec<Result<Next, StoreError>>,
        calls: Arc<AtomicU32>,
    }

    impl Round for Scripted {
        async fn round(&mut self) -> Result<Next, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.answers.is_empty() {
                Ok(Next::Done)
            } else {
                self.answers.remove(0)
            }
        }
    }

    fn lp(poll: Option<Duration>) -> Loop {
        let mut lp = Loop::new("test", CancellationToken::new());
        lp.poll = poll;
        lp
    }

    #[test]
    fn nothing_waiting_sleeps_a_full_poll_and_without_a_poll_forever() {
        let poll = Duration::from_secs(1);
        let wait = lp(Some(poll)).wait_after(Next::Idle).unwrap();
        assert!(
            wait >= poll.mul_f64(0.8) && wait <= poll.mul_f64(1.2),
            "{wait:?}"
        );
        assert_eq!(lp(None).wait_after(Next::Idle), None);
    }

    #[test]
    fn due_now_never_means_a_zero_sleep() {
        assert_eq!(
            lp(Some(Duration::from_secs(1))).wait_after(Next::In(Duration::ZERO)),
            Some(HELD_WORK_RECHECK)
        );
        assert_eq!(
            lp(None).wait_after(Next::In(Duration::ZERO)),
            Some(HELD_WORK_RECHECK)
        );
        // A poll shorter than the recheck wins (it is jittered, so below 1.2 × 10 ms).
        let short = lp(Some(Duration::from_millis(10)))
            .wait_after(Next::In(Duration::ZERO))
            .unwrap();
        assert!(short <= Duration::from_millis(12), "{short:?}");
    }

    #[test]
    fn a_later_due_time_is_waited_for_up_to_the_poll() {
        let d = Duration::from_millis(30);
        assert_eq!(
            lp(Some(Duration::from_secs(1))).wait_after(Next::In(d)),
            Some(d)
        );
        assert_eq!(
            lp(None).wait_after(Next::In(Duration::from_secs(9))),
            Some(Duration::from_secs(9))
        );
        let capped = lp(Some(Duration::from_secs(1)))
            .wait_after(Next::In(Duration::from_secs(9)))
            .unwrap();
        assert!(capped <= Duration::from_millis(1200), "{capped:?}");
        assert_eq!(lp(None).wait_after(Next::Again), Some(Duration::ZERO));
    }

    #[test]
    fn store_due_times_become_next() {
        assert_eq!(Next::due_in_ms(None), Next::Idle);
        assert_eq!(Next::due_in_ms(Some(-5.0)), Next::In(Duration::ZERO));
        assert_eq!(
            Next::due_in_ms(Some(1500.0)),
            Next::In(Duration::from_millis(1500))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_round_backs_off_then_the_loop_goes_on_until_done() {
        let calls = Arc::new(AtomicU32::new(0));
        let service = Scripted {
            answers: vec![
                Err(StoreError::Invalid("boom".into())),
                Ok(Next::Again),
                Ok(Next::In(Duration::from_millis(5))),
            ],
            calls: calls.clone(),
        };
        let lp = lp(Some(Duration::from_secs(1)));
        let rounds = lp.rounds.clone();
        run(service, lp).await;
        // The three scripted rounds and the one that said Done, the last of them completed.
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(rounds.completed("test"), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_up_starts_a_round_before_the_poll() {
        let calls = Arc::new(AtomicU32::new(0));
        let service = Scripted {
            answers: vec![Ok(Next::Idle), Ok(Next::Idle)],
            calls: calls.clone(),
        };
        let wake = Arc::new(Notify::new());
        // No poll at all: only the wake-up can start the second round.
        let lp = Loop::new("woken", CancellationToken::new()).woken_by(&wake);
        let rounds = lp.rounds.clone();
        let running = tokio::spawn(run(service, lp));
        let long = Duration::from_secs(60);
        assert!(rounds.wait_past("woken", 0, long).await);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        wake.notify_one();
        assert!(rounds.wait_past("woken", 1, long).await);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        wake.notify_one();
        running.await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "the third round said Done");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_a_loop_that_waits_forever() {
        let calls = Arc::new(AtomicU32::new(0));
        let service = Scripted {
            answers: vec![Ok(Next::Idle)],
            calls,
        };
        let cancel = CancellationToken::new();
        let lp = Loop::new("idle", cancel.clone());
        let rounds = lp.rounds.clone();
        let running = tokio::spawn(run(service, lp));
        assert!(rounds.wait_past("idle", 0, Duration::from_secs(60)).await);
        cancel.cancel();
        running.await.unwrap();
    }
}
