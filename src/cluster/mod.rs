//! Cluster plumbing shared by every role: the notification listener, membership (server
//! row, liveness lock, heartbeat, self-fencing) and, among masters, the leader.

pub mod firer;
pub mod leader;
pub mod listener;
pub mod membership;
pub mod rounds;

pub use listener::Wakeups;
pub use membership::Membership;
pub use rounds::Rounds;

use std::time::Duration;

/// `base` ± 20 %, so that many processes polling at the same interval spread out.
pub fn jittered(base: Duration) -> Duration {
    let factor = 0.8 + fastrand::f64() * 0.4;
    base.mul_f64(factor)
}

/// How soon to look again at work that is due but held by another process (a row locked
/// by another transaction, skipped by `SKIP LOCKED`).
pub const HELD_WORK_RECHECK: Duration = Duration::from_millis(50);

/// How long a loop sleeps before its next round, given when its next work is due (`None`:
/// nothing waits) and its jittered fallback poll. "Due now" after a round that took all
/// it could means the rest is held by someone else: waiting `HELD_WORK_RECHECK` instead of
/// nothing keeps that from becoming a busy loop of empty transactions.
pub fn next_wait(next_due: Option<Duration>, poll: Duration) -> Duration {
    match next_due {
        Some(d) if d.is_zero() => HELD_WORK_RECHECK.min(poll),
        Some(d) => d.min(poll),
        None => poll,
    }
}

/// Exponential backoff for reconnects: 100 ms doubling to 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << attempt.min(6)).min(5_000);
    jittered(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_waiting_sleeps_a_full_poll() {
        let poll = Duration::from_secs(1);
        assert_eq!(next_wait(None, poll), poll);
    }

    #[test]
    fn due_now_never_means_a_zero_sleep() {
        let poll = Duration::from_secs(1);
        assert_eq!(next_wait(Some(Duration::ZERO), poll), HELD_WORK_RECHECK);
        // A poll shorter than the recheck wins.
        let short = Duration::from_millis(10);
        assert_eq!(next_wait(Some(Duration::ZERO), short), short);
    }

    #[test]
    fn a_later_due_time_is_waited_for_up_to_the_poll() {
        let poll = Duration::from_secs(1);
        assert_eq!(
            next_wait(Some(Duration::from_millis(30)), poll),
            Duration::from_millis(30)
        );
        assert_eq!(next_wait(Some(Duration::from_secs(9)), poll), poll);
    }
}
