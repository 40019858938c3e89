//! Cluster plumbing shared by every role: the notification listener, membership (server
//! row, liveness lock, heartbeat, self-fencing) and, among masters, the leader.

pub mod firer;
pub mod leader;
pub mod listener;
pub mod membership;

pub use listener::Wakeups;
pub use membership::Membership;

use std::time::Duration;

/// `base` ± 20 %, so that many processes polling at the same interval spread out.
pub fn jittered(base: Duration) -> Duration {
    let factor = 0.8 + fastrand::f64() * 0.4;
    base.mul_f64(factor)
}

/// Exponential backoff for reconnects: 100 ms doubling to 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << attempt.min(6)).min(5_000);
    jittered(Duration::from_millis(ms))
}
