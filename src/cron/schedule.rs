//! A cron expression in an IANA time zone: fire instants under the DST rule.
//!
//! Fire instants come from matching wall-clock times mapped by [`resolve_local`]. That map is
//! increasing except just after a spring-forward gap, where a shifted wall time (02:30 →
//! 03:30) lands among the real ones after the gap; the searches below widen their window by
//! the gap there, and stop as soon as no later wall time can give an earlier instant.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::{CronError, CronExpr};

/// A schedule's time rules: expression + IANA zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub expr: CronExpr,
    pub tz: Tz,
}

/// Parse an IANA zone name (`Europe/Berlin`, `UTC`), spelled exactly.
pub fn parse_zone(name: &str) -> Result<Tz, CronError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| CronError::UnknownZone(name.to_string()))
}

/// The instant at which a local wall-clock time happens under the DST rule: the only one
/// when it exists once, the first when it exists twice (fall back), and, when it does not
/// exist (spring forward), the wall time shifted forward by the gap — that is, read with the
/// offset in force before the gap. Also the way to turn a backfill date's local midnight into
/// an instant. `None` only outside chrono's range.
pub fn resolve_local(tz: &Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t.to_utc()),
        LocalResult::Ambiguous(first, _) => Some(first.to_utc()),
        LocalResult::None => {
            // 15 h before the wall time read as UTC lies before the transition (offsets
            // are at most 14 h) and after the previous one.
            let probe = wall.checked_sub_signed(TimeDelta::hours(15))?.and_utc();
            let before = offset(tz, probe);
            Some(wall.checked_sub_signed(before)?.and_utc())
        }
    }
}

/// The zone's UTC offset at an instant.
fn offset(tz: &Tz, at: DateTime<Utc>) -> TimeDelta {
    TimeDelta::seconds(i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    ))
}

/// How far to look around transitions: longer than any gap or overlap (Pacific/Apia skipped
/// a whole day in 2011).
const TRANSITION_WINDOW: TimeDelta = TimeDelta::hours(26);

impl Schedule {
    /// Parse an expression and a zone; an unknown zone is an error naming it.
    pub fn new(expr: &str, tz: &str) -> Result<Schedule, CronError> {
        Ok(Schedule {
            expr: expr.parse()?,
            tz: parse_zone(tz)?,
        })
    }

    /// The first fire time strictly after `after`, as a UTC instant, applying the DST rule.
    /// `None` when the expression never fires again (e.g. a past year).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let wall = after.with_timezone(&self.tz).naive_local();
        // Wall times in a gap that `after` has just passed fire after it (shifted); start
        // the search that far back.
        let mut cursor = wall.checked_sub_signed(self.spring_forward_behind(after))?;
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(w) = self.expr.next_wall(cursor, inclusive) {
            (cursor, inclusive) = (w, false);
            let Some(at) = resolve_local(&self.tz, w) else {
                break;
            };
            if at > after {
                best = Some(best.map_or(at, |b| b.min(at)));
                // A real wall time: every later wall time fires later (a later gap time is
                // read with this same offset or lands after the gap).
                if self.exists(w) {
                    break;
                }
            }
        }
        best
    }

    /// The last fire time at or before `at`.
    pub fn last_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let wall = at.with_timezone(&self.tz).naive_local();
        // In the second pass of a repeated hour, the wall times still ahead in that hour
        // fired during the first pass: start above them.
        let mut cursor = wall.checked_add_signed(self.fall_back_behind(at))?;
        let mut inclusive = true;
        let mut best: Option<DateTime<Utc>> = None;
        let mut floor: Option<NaiveDateTime> = None;
        while let Some(w) = self.expr.prev_wall(cursor, inclusive) {
            if floor.is_some_and(|f| w < f) {
                break;
            }
            (cursor, inclusive) = (w, false);
            let Some(fire) = resolve_local(&self.tz, w) else {
                break;
            };
            if fire <= at {
                best = Some(best.map_or(fire, |b| b.max(fire)));
                if floor.is_none() && self.exists(w) {
                    // Earlier real wall times fire earlier; only gap times within one gap
                    // length below can still fire later (shifted past this one).
                    match self.spring_forward_behind(fire) {
                        gap if gap > TimeDelta::zero() => floor = w.checked_sub_signed(gap),
                        _ => break,
                    }
                }
            }
        }
        best
    }

    /// Up to `count` fire times strictly after `after`, in the schedule's zone (for display:
    /// RFC 3339 with offset).
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Tz>> {
        self.iter_after(after)
            .take(count)
            .map(|t| t.with_timezone(&self.tz))
            .collect()
    }

    /// Fire times in `(from, to]` — for backfill dates — at most `limit`.
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        self.iter_after(from)
            .take_while(|t| *t <= to)
            .take(limit)
            .collect()
    }

    /// Fire times strictly after `after`, ascending.
    pub fn iter_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut last = after;
        std::iter::from_fn(move || {
            let next = self.next_after(last)?;
            last = next;
            Some(next)
        })
    }

    fn exists(&self, wall: NaiveDateTime) -> bool {
        !matches!(self.tz.from_local_datetime(&wall), LocalResult::None)
    }

    /// The size of a spring-forward gap that ended less than its own length before `at`
    /// (so shifted gap times can fire after `at`), else zero.
    fn spring_forward_behind(&self, at: DateTime<Utc>) -> TimeDelta {
        let now = offset(&self.tz, at);
        let Some(earlier) = at.checked_sub_signed(TRANSITION_WINDOW) else {
            return TimeDelta::zero();
        };
        let gap = now - offset(&self.tz, earlier);
        match at.checked_sub_signed(gap) {
            Some(t) if gap > TimeDelta::zero() && offset(&self.tz, t) < now => gap,
            _ => TimeDelta::zero(),
        }
    }

    /// The size of a fall-back overlap when `at` is in its second pass, else zero.
    fn fall_back_behind(&self, at: DateTime<Utc>) -> TimeDelta {
        let now = offset(&self.tz, at);
        let Some(earlier) = at.checked_sub_signed(TRANSITION_WINDOW) else {
            return TimeDelta::zero();
        };
        let overlap = offset(&self.tz, earlier) - now;
        match at.checked_sub_signed(overlap) {
            Some(t) if overlap > TimeDelta::zero() && offset(&self.tz, t) > now => overlap,
            _ => TimeDelta::zero(),
        }
    }
}
