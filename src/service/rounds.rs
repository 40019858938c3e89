//! Rounds: a count of each loop's completed rounds, so that a test can wait until a round
//! that would have done something has run, instead of sleeping and hoping.
//!
//! The runner (`service::run`) calls [`Rounds::begin`] when a round starts and
//! [`Counted::done`] when it ended
//! without an error. [`Rounds::mark`] numbers the last round started; [`Rounds::wait_past`]
//! waits until a round started after that mark has completed, so everything the mark's
//! caller wrote before marking has been seen by a whole round. Rounds only count; they
//! never change what a loop does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// Service names, as counted (and named in log lines).
pub const EVALUATOR: &str = "evaluator";
pub const FIRER: &str = "firer";
pub const ALERT: &str = "alert";
pub const LEADER: &str = "leader";
pub const COMMANDS: &str = "command consumer";
pub const FETCHER: &str = "fetcher";
pub const KILL_WATCH: &str = "kill watch";
pub const LISTENER: &str = "listener";
pub const HEARTBEAT: &str = "heartbeat";
pub const SHIPPER: &str = "shipper";
pub const KEEPER: &str = "table keeper";

/// `(started, last completed)`: round numbers, from 1.
type Counts = (u64, u64);

/// The rounds of the loops of one process (shared by clones).
#[derive(Clone, Default)]
pub struct Rounds {
    loops: Arc<Mutex<HashMap<&'static str, watch::Sender<Counts>>>>,
}

/// A round in progress; [`Counted::done`] counts it as completed.
#[must_use]
pub struct Counted {
    counts: watch::Sender<Counts>,
    number: u64,
}

impl Counted {
    pub fn done(self) {
        let number = self.number;
        self.counts.send_modify(|c| c.1 = c.1.max(number));
    }
}

impl Rounds {
    fn counts(&self, name: &'static str) -> watch::Sender<Counts> {
        self.loops
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(name)
            .or_insert_with(|| watch::channel((0, 0)).0)
            .clone()
    }

    /// A round of `name` starts.
    pub fn begin(&self, name: &'static str) -> Counted {
        let counts = self.counts(name);
        let mut number = 0;
        counts.send_modify(|c| {
            c.0 += 1;
            number = c.0;
        });
        Counted { counts, number }
    }

    /// Rounds of `name` completed so far.
    pub fn completed(&self, name: &'static str) -> u64 {
        self.counts(name).borrow().1
    }

    /// The number of the last round of `name` started: a round past it starts after now.
    pub fn mark(&self, name: &'static str) -> u64 {
        self.counts(name).borrow().0
    }

    /// Wait until a round of `name` numbered above `mark` has completed; false after
    /// `timeout`.
    pub async fn wait_past(&self, name: &'static str, mark: u64, timeout: Duration) -> bool {
        let mut seen = self.counts(name).subscribe();
        tokio::time::timeout(timeout, seen.wait_for(|c| c.1 > mark))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Wait until a whole round of `name` that starts after this call has completed.
    pub async fn next(&self, name: &'static str, timeout: Duration) -> bool {
        let mark = self.mark(name);
        self.wait_past(name, mark, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_round_started_before_the_mark_does_not_count() {
        let rounds = Rounds::default();
        let before = rounds.begin(EVALUATOR);
        let mark = rounds.mark(EVALUATOR);
        before.done();
        assert_eq!(rounds.completed(EVALUATOR), 1);
        assert!(
            !rounds
                .wait_past(EVALUATOR, mark, Duration::from_millis(10))
                .await
        );
        let waiting = {
            let rounds = rounds.clone();
            tokio::spawn(async move {
                rounds
                    .wait_past(EVALUATOR, mark, Duration::from_secs(10))
                    .await
            })
        };
        rounds.begin(EVALUATOR).done();
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn a_failed_round_is_not_completed() {
        let rounds = Rounds::default();
        drop(rounds.begin(FIRER));
        assert_eq!(rounds.completed(FIRER), 0);
        assert!(!rounds.next(FIRER, Duration::from_millis(10)).await);
    }
}
