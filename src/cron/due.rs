//! What the leader's cron firer fires now: due times and misfires.

use chrono::{DateTime, TimeDelta, Utc};

use super::Schedule;

/// What to do about fire times missed while no leader ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Misfire {
    /// Fire once, for the latest missed time (the default).
    #[default]
    FireOnce,
    /// Fire none of the missed times.
    Skip,
}

/// The answer of [`due`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Fire times to fire now (at most one), ascending.
    pub fire: Vec<DateTime<Utc>>,
    /// The next fire time after `now` (and not before the lower bound): when to wake up.
    pub next: Option<DateTime<Utc>>,
}

/// What the leader fires now.
///
/// - `last_fire`: the last fire time already fired; `None` if never fired.
/// - `lower_bound`: the schedule's `start`, or its creation time when it has none. Fire times
///   before it never fire; a fire time equal to it does.
/// - `now`: the database clock.
///
/// The due fire times are those in `(last_fire, now]` (`[lower_bound, now]` when never
/// fired). Only the latest of them can fire — never a replay back to `start`:
/// - it fires when it is on time, i.e. at most `tolerance` before `now` (a leader that wakes
///   a little late has not missed anything), whatever the policy;
/// - a later one is *missed* (leader downtime): [`Misfire::FireOnce`] still fires it,
///   [`Misfire::Skip`] fires nothing.
///
/// So `fire` holds at most one time. `next` is the first fire time after `now` (and at or
/// after `lower_bound`), for sleeping.
pub fn due(
    schedule: &Schedule,
    last_fire: Option<DateTime<Utc>>,
    lower_bound: DateTime<Utc>,
    now: DateTime<Utc>,
    misfire: Misfire,
    tolerance: TimeDelta,
) -> Due {
    let in_window = |t: &DateTime<Utc>| t >= &lower_bound && last_fire.is_none_or(|l| *t > l);
    let latest = schedule.last_at_or_before(now).filter(in_window);
    let fire = match latest {
        Some(t) if misfire == Misfire::FireOnce || now - t <= tolerance => vec![t],
        _ => Vec::new(),
    };
    // Sleep to the first fire time that could fire: after `now`, after `last_fire`, and at or
    // after `lower_bound`.
    let mut floor = now;
    if let Some(l) = last_fire {
        floor = floor.max(l);
    }
    if let Some(b) = lower_bound.checked_sub_signed(TimeDelta::nanoseconds(1)) {
        floor = floor.max(b);
    }
    Due {
        fire,
        next: schedule.next_after(floor),
    }
}
