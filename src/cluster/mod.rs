//! Cluster plumbing shared by every role: the notification listener, membership (server
//! row, liveness lock, heartbeat, self-fencing) and, among masters, the leader.

pub mod firer;
pub mod leader;
pub mod listener;
pub mod membership;

pub use crate::service::Rounds;
pub use listener::Wakeups;
pub use membership::Membership;
