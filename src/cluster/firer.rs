//! The cron firer: runs while this process is the leader, and only then.
//!
//! Owns the firing of `pgdag.schedule` rows. Each round is one transaction fenced by the
//! leader term: it locks the due schedules (`next_fire_at <= now()`, database clock), asks
//! the pure `cron::due` which fire times to fire (the DST rule and the misfire policy live
//! there), records each fire in `pgdag.schedule_fire` — whose key `(schedule_id,
//! fire_time)` makes a fire idempotent, even with two leaders for a moment — inserts a
//! `schedule` command carrying the fire time as the instance's schedule time, and stores the
//! next fire time. It sleeps until the next fire time (at most `max_sleep`), woken sooner by
//! `pgdag_schedule` when a schedule is added, changed or switched on (a trigger on
//! `pgdag.schedule` sends it), so fires are late by a transaction, not by a poll. An invalid schedule is logged and parked
//! (`next_fire_at` cleared) without stopping the others.

use std::time::Duration;

use crate::cron::{self, Misfire, Schedule};
use crate::service::{Next, Round};
use crate::store::{Store, StoreError, cluster, schedules};

/// The cron firer's settings.
#[derive(Debug, Clone)]
pub struct FirerConfig {
    /// Longest sleep between rounds: a schedule that becomes due sooner wakes the firer
    /// (`pgdag_schedule`); this only covers a lost notification.
    pub max_sleep: Duration,
    /// A fire time this close behind `now` is on time, not missed.
    pub tolerance: Duration,
    pub clock: crate::clock::Clock,
}

impl FirerConfig {
    pub const DEFAULT_MAX_SLEEP: Duration = Duration::from_secs(60);
    pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5);

    pub fn validate(&self) -> Result<(), String> {
        if self.max_sleep.is_zero() {
            return Err("cron firer: the longest sleep must be above zero".into());
        }
        Ok(())
    }
}

/// The firer of one leadership term; it ends when the term is no longer this process's.
pub struct Firer {
    pub store: Store,
    pub me: i64,
    pub term: i64,
    pub config: FirerConfig,
}

impl Round for Firer {
    async fn round(&mut self) -> Result<Next, StoreError> {
        Ok(
            match round(&self.store, self.me, self.term, &self.config).await? {
                Some(wait) => Next::In(wait),
                None => Next::Done, // the term is gone: leadership ended
            },
        )
    }
}

/// One fenced round; returns how long to sleep, or None when the term is no longer ours.
async fn round(
    store: &Store,
    me: i64,
    term: i64,
    config: &FirerConfig,
) -> Result<Option<Duration>, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    if !cluster::holds_term(&tx, term, me).await? {
        return Ok(None);
    }
    let mut fires: Vec<schedules::Fire> = Vec::new();
    let mut advances: Vec<schedules::Advance> = Vec::new();
    for s in schedules::due(&tx, 500, config.clock.now()).await? {
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
            chrono::Duration::milliseconds(config.tolerance.as_millis() as i64),
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
    // The next due time, in the same transaction: a round is one transaction.
    let next = schedules::next_due_ms(&tx, config.clock.now()).await?;
    tx.commit().await?;
    // Zero (due but not taken: held by a leader of a moment ago) is looked at again after
    // the runner's recheck, not at once.
    let wait = match next {
        Some(ms) if ms > 0.0 => Duration::from_millis(ms as u64).min(config.max_sleep),
        Some(_) => Duration::ZERO,
        None => config.max_sleep,
    };
    Ok(Some(wait))
}
