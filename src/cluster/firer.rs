//! The cron firer: runs while this process is the leader, and only then.
//!
//! Owns the firing of `pgdag.schedule` rows. Each round is one transaction fenced by the
//! leader term: it locks the due schedules (`next_fire_at <= now()`, database clock, or
//! the process's `Clock` when a test fixed one), asks the pure `cron::due` which fire times to fire (the DST rule and the misfire policy live
//! there), records each fire in `pgdag.schedule_fire` — whose key `(schedule_id,
//! fire_time)` makes a fire idempotent, even with two leaders for a moment — inserts a
//! `schedule` command carrying the fire time as the instance's schedule time, and stores the
//! next fire time. It sleeps until the next fire time (at most `MAX_SLEEP`), so fires are
//! late by a transaction, not by a poll. An invalid schedule is logged and parked
//! (`next_fire_at` cleared) without stopping the others.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::rounds::{self, Rounds};
use crate::clock::Clock;
use crate::cron::{self, Misfire, Schedule};
use crate::store::{Store, StoreError, cluster, schedules};

/// Longest sleep between rounds (schedules added or switched on are seen within it).
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// A fire time this close behind `now` is on time, not missed.
const TOLERANCE_MS: i64 = 5_000;

pub async fn run(
    store: Store,
    me: i64,
    term: i64,
    clock: Clock,
    rounds: Rounds,
    cancel: CancellationToken,
) {
    loop {
        let counted = rounds.begin(rounds::FIRER);
        let wait = match round(&store, me, term, &clock).await {
            Ok(Some(wait)) => {
                counted.done();
                wait
            }
            Ok(None) => return, // the term is gone: leadership ended
            Err(e) => {
                tracing::warn!(error = %e, "cron firing round failed");
                MAX_SLEEP
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One fenced round; returns how long to sleep, or None when the term is no longer ours.
async fn round(
    store: &Store,
    me: i64,
    term: i64,
    clock: &Clock,
) -> Result<Option<Duration>, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    if !cluster::holds_term(&tx, term, me).await? {
        return Ok(None);
    }
    let mut fires: Vec<schedules::Fire> = Vec::new();
    let mut advances: Vec<schedules::Advance> = Vec::new();
    for s in schedules::due(&tx, 500, clock.now()).await? {
        let schedule = match Schedule::new(&s.cron, &s.timezone) {
            Ok(schedule) => schedule,
            Err(e) => {
                tracing::error!(schedule = s.id, error = %e, "invalid schedule parked");
                advances.push((s.id, None, None, true));
                continue;
            }
        };
        let misfire = if s.misfire == "skip" {
            Misfire::Skip
        } else {
            Misfire::FireOnce
        };
        let lower = s
            .start_at
            .map_or(s.updated_at, |start| start.max(s.updated_at));
        let due = cron::due(
            &schedule,
            s.last_fire_at,
            lower,
            s.db_now,
            misfire,
            chrono::Duration::milliseconds(TOLERANCE_MS),
        );
        let mut last = None;
        for fire in due.fire {
            if s.end_at.is_some_and(|end| fire > end) {
                continue;
            }
            last = Some(fire);
            if s.online {
                fires.push((s.id, fire, s.project.clone(), s.workflow.clone()));
            }
        }
        let next = due.next.filter(|n| s.end_at.is_none_or(|end| *n <= end));
        advances.push((s.id, last, next, false));
    }
    // One statement for the fires (their commands notify the masters), one for the
    // schedules' next times.
    schedules::fire_batch(&tx, &fires).await?;
    schedules::advance_batch(&tx, &advances).await?;
    tx.commit().await?;
    let wait = match schedules::next_due_ms(&client, clock.now()).await? {
        Some(ms) if ms > 0.0 => Duration::from_millis(ms as u64).min(MAX_SLEEP),
        Some(_) => Duration::ZERO,
        None => MAX_SLEEP,
    };
    Ok(Some(wait))
}
