//! The fence watch: when the process fences itself (no heartbeat for `dead_after`), every
//! running attempt is killed and not reported — the leader fails them over, or this
//! process hands them back once it is healthy again. Owns nothing; woken only by the
//! membership's fence signal.

use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use super::Running;
use crate::cluster::Membership;

/// When the process fences itself, every running attempt is killed and not reported.
pub(super) async fn fence_watch(
    membership: Membership,
    running: Running,
    cancel: CancellationToken,
) {
    let mut fences = membership.fences();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = fences.changed() => if changed.is_err() { return },
        }
        let running = running.lock().expect("running lock");
        if !running.is_empty() {
            tracing::warn!(attempts = running.len(), "fenced: killing running attempts");
        }
        for (_, stop) in running.values() {
            stop.hand_back.store(true, Ordering::SeqCst);
            stop.kill.cancel();
        }
    }
}
