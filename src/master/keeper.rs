//! The table keeper: where the server runs without autovacuum, vacuums and analyzes
//! pgdag's hot tables once enough attempts have ended.
//!
//! Without autovacuum nothing removes the dead rows that every attempt leaves in
//! `task_queue`, `instance_event` and `task_instance`, and nothing refreshes their
//! statistics, so the plans each connection made once (`store::db`) stay the plans of
//! the tables as they were when it opened — sequential scans of what were a few rows. A
//! 50-task chain's hop went from 2.5 to 15–19 ms after 13,000 attempts that way. The
//! evaluator counts the attempts it sees end ([`Trigger::ended`]); every
//! [`CHECK_EVERY`] of them the keeper reads the tables' statistics and runs
//! `VACUUM (ANALYZE)` (or `ANALYZE` alone) where autovacuum's own rule would have,
//! counting at least one dead row per attempt ended since its last round in the tables
//! an attempt changes (the statistics lag the burst that woke it: [`with_attempts`]).
//! Rounds begin at least [`LEAST_INTERVAL`] apart: a wake-up sooner than that is served
//! when the interval is over.
//! With autovacuum on, the check returns no table and nothing else happens. It also runs
//! once when the master starts (the runner's first round: a restart after much work finds
//! the tables as they are); after that no poll, so an idle master runs no round. A failed
//! round is logged and retried with the runner's backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::service::{Next, Round};
use crate::store::maintenance::{self, TableHealth};
use crate::store::{Result, Store};

/// Ended attempts between two checks.
pub const CHECK_EVERY: u64 = 1_000;

/// What the evaluator tells the keeper (shared by clones).
#[derive(Clone, Default)]
pub struct Trigger {
    ended: Arc<AtomicU64>,
    pub wake: Arc<Notify>,
}

impl Trigger {
    /// `n` more attempts ended; wakes the keeper each time the count passes a multiple of
    /// [`CHECK_EVERY`].
    pub fn ended(&self, n: u64) {
        if n == 0 {
            return;
        }
        let before = self.ended.fetch_add(n, Ordering::Relaxed);
        if before / CHECK_EVERY != (before + n) / CHECK_EVERY {
            self.wake.notify_one();
        }
    }
}

/// The keeper service: one check per wake-up.
pub struct Keeper {
    pub store: Store,
    pub trigger: Trigger,
    /// Ended attempts counted at the last round.
    pub seen: u64,
    /// When the last round began.
    pub last_round: Option<Instant>,
}

/// Least time from the start of one round to the start of the next. Woken every
/// [`CHECK_EVERY`] attempts, the keeper vacuumed `task_instance` (all its indexes, whatever
/// the dead rows) and analyzed it about twice in each instance of 2,000 `sql` tasks (a
/// third of a second): about a tenth of Postgres's CPU for them. Autovacuum itself looks
/// at a database once a minute (`autovacuum_naptime`): the keeper stays thirty times as
/// eager.
pub const LEAST_INTERVAL: Duration = Duration::from_secs(2);

/// How long a round woken at `now` waits before it looks at the tables: until
/// [`LEAST_INTERVAL`] after the last one began (the attempts counted meanwhile are not
/// lost: the deferred round counts them).
pub fn deferred_by(last_round: Option<Instant>, now: Instant) -> Option<Duration> {
    let since = now.saturating_duration_since(last_round?);
    (since < LEAST_INTERVAL).then(|| LEAST_INTERVAL - since)
}

impl Round for Keeper {
    async fn round(&mut self) -> Result<Next> {
        let now = Instant::now();
        if let Some(wait) = deferred_by(self.last_round, now) {
            return Ok(Next::In(wait));
        }
        self.last_round = Some(now);
        let ended = self.trigger.ended.load(Ordering::Relaxed);
        let since = ended.saturating_sub(self.seen);
        let client = self.store.client().await?;
        for table in maintenance::health(&client).await? {
            let table = with_attempts(table, since);
            if let Some(work) = upkeep(&table) {
                let started = Instant::now();
                maintenance::vacuum(&client, &table.table, work == Upkeep::Analyze).await?;
                tracing::info!(
                    table = %table.table,
                    dead = table.dead,
                    live = table.live,
                    ?work,
                    ms = started.elapsed().as_millis() as u64,
                    "table kept (the server runs without autovacuum)"
                );
            }
        }
        self.seen = ended;
        Ok(Next::Idle)
    }
}

/// The statistics can lag the writes by a second or more (a backend reports its counts
/// when it goes idle, at most once a second), and the keeper looks once, right after a
/// burst: it may see a few of the dead rows it was woken for, and then nothing wakes it
/// again before the next thousand attempts. Every attempt that ended since the last round
/// changed each of [`maintenance::PER_ATTEMPT_TABLES`], so that many dead rows are counted
/// there at least. `workflow_instance` and `command` keep their own counts:
/// counted as if each attempt had changed them, a table of a few rows was vacuumed and
/// analyzed every thousand attempts (5–19 ms each, in a `sql` instance and a fan-out).
pub fn with_attempts(mut table: TableHealth, attempts: u64) -> TableHealth {
    if !maintenance::PER_ATTEMPT_TABLES.contains(&table.table.as_str()) {
        return table;
    }
    let attempts = i64::try_from(attempts).unwrap_or(i64::MAX);
    table.dead = table.dead.max(attempts);
    table.changed_since_analyze = table.changed_since_analyze.max(attempts);
    table
}

/// What a table needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// `VACUUM (ANALYZE)`: dead rows to remove (and statistics to refresh).
    Vacuum,
    /// `ANALYZE`: only the statistics are stale.
    Analyze,
}

/// Autovacuum's rule with its default settings: vacuum past 50 dead rows plus a fifth of
/// the live ones, analyze past 50 changed rows plus a tenth.
pub fn upkeep(table: &TableHealth) -> Option<Upkeep> {
    let live = table.live.max(0) as f64;
    if table.dead as f64 > 50.0 + 0.2 * live {
        Some(Upkeep::Vacuum)
    } else if table.changed_since_analyze as f64 > 50.0 + 0.1 * live {
        Some(Upkeep::Analyze)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(live: i64, dead: i64, changed: i64) -> TableHealth {
        TableHealth {
            table: "task_queue".into(),
            live,
            dead,
            changed_since_analyze: changed,
        }
    }

    #[test]
    fn dead_rows_past_autovacuums_threshold_mean_a_vacuum() {
        assert_eq!(upkeep(&table(1_000, 251, 0)), Some(Upkeep::Vacuum));
        assert_eq!(upkeep(&table(1_000, 250, 0)), None);
        assert_eq!(upkeep(&table(0, 51, 0)), Some(Upkeep::Vacuum));
    }

    #[test]
    fn changed_rows_past_the_analyze_threshold_mean_an_analyze_only() {
        assert_eq!(upkeep(&table(1_000, 0, 151)), Some(Upkeep::Analyze));
        assert_eq!(upkeep(&table(1_000, 0, 150)), None);
        // A vacuum analyzes too.
        assert_eq!(upkeep(&table(1_000, 300, 5_000)), Some(Upkeep::Vacuum));
    }

    #[test]
    fn attempts_counted_since_the_last_round_stand_for_dead_rows_the_statistics_lag() {
        // The statistics have seen 40 of the thousand attempts' dead rows.
        let seen = with_attempts(table(0, 40, 40), 1_000);
        assert_eq!((seen.dead, seen.changed_since_analyze), (1_000, 1_000));
        assert_eq!(upkeep(&seen), Some(Upkeep::Vacuum));
        // Fresher statistics win; no attempt counted changes nothing.
        assert_eq!(with_attempts(table(10, 3_000, 5), 1_000).dead, 3_000);
        assert_eq!(upkeep(&with_attempts(table(1_000, 0, 0), 0)), None);
    }

    #[test]
    fn tables_an_attempt_does_not_change_keep_their_own_counts() {
        for name in ["workflow_instance", "command"] {
            let seen = with_attempts(
                TableHealth {
                    table: name.into(),
                    ..table(20, 3, 4)
                },
                1_000,
            );
            assert_eq!((seen.dead, seen.changed_since_analyze), (3, 4), "{name}");
            assert_eq!(upkeep(&seen), None, "{name}");
        }
    }

    #[test]
    fn a_round_woken_within_the_least_interval_waits_for_its_end() {
        let t0 = Instant::now();
        assert_eq!(deferred_by(None, t0), None, "the first round runs at once");
        assert_eq!(deferred_by(Some(t0), t0), Some(LEAST_INTERVAL));
        let half = LEAST_INTERVAL / 2;
        assert_eq!(
            deferred_by(Some(t0), t0 + half),
            Some(LEAST_INTERVAL - half)
        );
        assert_eq!(deferred_by(Some(t0), t0 + LEAST_INTERVAL), None);
        assert_eq!(deferred_by(Some(t0), t0 + LEAST_INTERVAL * 3), None);
    }

    #[test]
    fn the_keeper_is_woken_once_per_thousand_ended_attempts() {
        let trigger = Trigger::default();
        let woken = || {
            // A stored permit means notify_one was called since the last take.
            let n = trigger.wake.notified();
            futures_util::FutureExt::now_or_never(n).is_some()
        };
        trigger.ended(999);
        assert!(!woken());
        trigger.ended(1);
        assert!(woken());
        trigger.ended(0);
        trigger.ended(500);
        assert!(!woken());
        trigger.ended(1_600);
        assert!(woken());
        assert!(!woken());
    }
}
