//! Date intervals that a DolphinScheduler-style `dependent` task checks.
//!
//! Mirrors the semantics of DolphinScheduler's `DependentDateUtils`, but works
//! with half-open UTC intervals and real calendar units in a given time zone.
//! Pure computation: no I/O, no clock reads, and no panics for any input.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Today,
    Last1Days,
    Last2Days,
    Last3Days,
    Last4Days,
    Last5Days,
    Last6Days,
    Last7Days,
    ThisWeek,
    LastWeek,
    ThisMonth,
    LastMonth,
    LastMonthBegin,
    LastMonthEnd,
    LastMonday,
    LastTuesday,
    LastWednesday,
    LastThursday,
    LastFriday,
    LastSaturday,
    LastSunday,
    CurrentHour,
    Last1Hour,
    Last2Hours,
    Last3Hours,
    Last24Hours,
}

impl Window {
    /// Every window, in declaration order.
    pub const ALL: [Window; 26] = [
        Window::Today,
        Window::Last1Days,
        Window::Last2Days,
        Window::Last3Days,
        Window::Last4Days,
        Window::Last5Days,
        Window::Last6Days,
        Window::Last7Days,
        Window::ThisWeek,
        Window::LastWeek,
        Window::ThisMonth,
        Window::LastMonth,
        Window::LastMonthBegin,
        Window::LastMonthEnd,
        Window::LastMonday,
        Window::LastTuesday,
        Window::LastWednesday,
        Window::LastThursday,
        Window::LastFriday,
        Window::LastSaturday,
        Window::LastSunday,
        Window::CurrentHour,
        Window::Last1Hour,
        Window::Last2Hours,
        Window::Last3Hours,
        Window::Last24Hours,
    ];

    /// True for the windows measured in clock hours rather than local days.
    pub fn is_hourly(self) -> bool {
        matches!(
            self,
            Window::CurrentHour
                | Window::Last1Hour
                | Window::Last2Hours
                | Window::Last3Hours
                | Window::Last24Hours
        )
    }
}

/// A half-open interval [start, end) in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

const HOUR_SECS: i64 = 3600;

/// The intervals, oldest first, that must each be matched by a succeeded instance. `base` is the
/// dependent task's base time (the instance's schedule time, else now); days, weeks and months are
/// calendar units in `tz` (a day is local midnight to the next local midnight, so 23 or 25 hours
/// across DST; weeks start on Monday).
///
/// A local calendar day that does not exist at all in `tz` (e.g. 2011-12-30 in Pacific/Apia)
/// would be an empty interval that no instance could ever match; such days are left out. If the
/// computation would leave chrono's representable range, the result is empty (never a panic).
pub fn intervals(window: Window, base: DateTime<Utc>, tz: Tz) -> Vec<Interval> {
    compute(window, base, tz).unwrap_or_default()
}

fn compute(window: Window, base: DateTime<Utc>, tz: Tz) -> Option<Vec<Interval>> {
    use Window::*;
    let today = to_local(base, tz)?.date_naive();
    let monday = sub_days(today, u64::from(today.weekday().num_days_from_monday()))?;
    let first_of_month = today.with_day(1)?;
    let last_of_prev_month = first_of_month.pred_opt()?;
    let first_of_prev_month = last_of_prev_month.with_day(1)?;
    // Monday of the previous week, plus an offset for the weekday wanted.
    let last_week_day = |offset: u64| -> Option<Vec<Interval>> {
        let d = add_days(sub_days(monday, 7)?, offset)?;
        day_range(d, d, tz)
    };

    match window {
        Today => day_range(today, today, tz),
        Last1Days => last_n_days(today, 1, tz),
        Last2Days => last_n_days(today, 2, tz),
        Last3Days => last_n_days(today, 3, tz),
        Last4Days => last_n_days(today, 4, tz),
        Last5Days => last_n_days(today, 5, tz),
        Last6Days => last_n_days(today, 6, tz),
        Last7Days => last_n_days(today, 7, tz),
        ThisWeek => day_range(monday, today, tz),
        LastWeek => {
            let prev_monday = sub_days(monday, 7)?;
            day_range(prev_monday, add_days(prev_monday, 6)?, tz)
        }
        ThisMonth => day_range(first_of_month, today, tz),
        LastMonth => day_range(first_of_prev_month, last_of_prev_month, tz),
        LastMonthBegin => day_range(first_of_prev_month, first_of_prev_month, tz),
        LastMonthEnd => day_range(last_of_prev_month, last_of_prev_month, tz),
        LastMonday => last_week_day(0),
        LastTuesday => last_week_day(1),
        LastWednesday => last_week_day(2),
        LastThursday => last_week_day(3),
        LastFriday => last_week_day(4),
        LastSaturday => last_week_day(5),
        LastSunday => last_week_day(6),
        CurrentHour => hours(base, tz, 0, 0),
        Last1Hour => hours(base, tz, 1, 1),
        Last2Hours => hours(base, tz, 2, 1),
        Last3Hours => hours(base, tz, 3, 1),
        Last24Hours => hours(base, tz, 24, 1),
    }
}

/// `t` in `tz`, if its local date-time is representable (chrono's `naive_local` would panic).
fn to_local(t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Tz>> {
    let local = t.with_timezone(&tz);
    t.naive_utc().checked_add_offset(local.offset().fix())?;
    Some(local)
}

fn add_days(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(n))
}

fn sub_days(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_sub_days(Days::new(n))
}

/// The `n` local days before `today` (not including it), oldest first.
fn last_n_days(today: NaiveDate, n: u64, tz: Tz) -> Option<Vec<Interval>> {
    day_range(sub_days(today, n)?, sub_days(today, 1)?, tz)
}

/// One interval per local day from `first` through `last` (inclusive), skipping days that do not
/// exist in `tz`. Callers only ever ask for at most 31 days.
fn day_range(first: NaiveDate, last: NaiveDate, tz: Tz) -> Option<Vec<Interval>> {
    let mut out = Vec::new();
    let mut start = local_midnight(first, tz)?;
    let mut d = first;
    while d <= last {
        let next = d.succ_opt()?;
        let end = local_midnight(next, tz)?;
        if end > start {
            out.push(Interval { start, end });
        }
        start = end;
        d = next;
    }
    Some(out)
}

/// The local day `d` as an interval, if it is non-empty.
fn day_interval(d: NaiveDate, tz: Tz) -> Option<Interval> {
    let start = local_midnight(d, tz)?;
    let end = local_midnight(d.succ_opt()?, tz)?;
    (end > start).then_some(Interval { start, end })
}

/// The instant at which local day `d` begins in `tz`.
fn local_midnight(d: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    resolve_local(d.and_time(NaiveTime::MIN), tz)
}

/// A local wall-clock time as an instant: the earlier instant when it is ambiguous, and the first
/// existing instant after it when it falls in a gap.
fn resolve_local(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => first_instant_at_or_after(naive, tz),
    }
}

/// The earliest instant whose local time in `tz` is at or after `naive`, searched within a window
/// around `naive` wide enough for every real UTC offset (-12h..+14h).
fn first_instant_at_or_after(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let local_ge = |secs: i64| -> Option<bool> {
        let t = DateTime::<Utc>::from_timestamp(secs, 0)?;
        Some(to_local(t, tz)?.naive_local() >= naive)
    };
    let guess = naive.and_utc().timestamp();
    let mut lo = guess.checked_sub(15 * HOUR_SECS)?;
    let mut hi = guess.checked_add(15 * HOUR_SECS)?;
    // Invariant: local(lo) < naive <= local(hi).
    if local_ge(lo)? || !local_ge(hi)? {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_ge(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::<Utc>::from_timestamp(hi, 0)
}

/// Hours `from_back..=to_back` before the current local clock hour (0 = the current hour), oldest
/// first. Hours are real 3600-second spans; the current hour starts at the local hour boundary
/// (under base's UTC offset) at or before `base`.
fn hours(base: DateTime<Utc>, tz: Tz, from_back: i64, to_back: i64) -> Option<Vec<Interval>> {
    let h0 = current_hour_start(base, tz);
    (to_back..=from_back)
        .rev()
        .map(|k| {
            let start = h0.checked_sub(k.checked_mul(HOUR_SECS)?)?;
            let end = start.checked_add(HOUR_SECS)?;
            Some(Interval {
                start: DateTime::<Utc>::from_timestamp(start, 0)?,
                end: DateTime::<Utc>::from_timestamp(end, 0)?,
            })
        })
        .collect()
}

/// Unix seconds of the start of the local clock hour containing `base`.
fn current_hour_start(base: DateTime<Utc>, tz: Tz) -> i64 {
    let ts = base.timestamp();
    let offset = i64::from(base.with_timezone(&tz).offset().fix().local_minus_utc());
    // |offset| < 1 day and |ts| is far below i64::MAX, so this cannot overflow.
    ts - (ts + offset).rem_euclid(HOUR_SECS)
}

fn is_ambiguous(t: DateTime<Tz>, tz: Tz) -> bool {
    matches!(
        tz.from_local_datetime(&t.naive_local()),
        LocalResult::Ambiguous(..)
    )
}

/// " (UTC+01:00)" or " (UTC+02:00→UTC+01:00)" when the local times alone would be unclear
/// (an endpoint is an ambiguous local time, or the offset changes inside the interval).
fn offset_note(s: DateTime<Tz>, e: DateTime<Tz>, tz: Tz) -> String {
    let (so, eo) = (s.offset().fix(), e.offset().fix());
    if so != eo {
        format!(" (UTC{so}→UTC{eo})")
    } else if is_ambiguous(s, tz) || is_ambiguous(e, tz) {
        format!(" (UTC{so})")
    } else {
        String::new()
    }
}

impl Interval {
    /// A human-readable label in `tz`'s local time:
    /// - a whole local day: `2026-03-28`;
    /// - one clock hour: `2026-03-28 14:00–15:00`, with the UTC offset(s) appended when the local
    ///   times alone are ambiguous, e.g. `2026-10-25 02:00–02:00 (UTC+02:00→UTC+01:00)`;
    /// - anything else: `2026-03-28 14:30:00 – 2026-03-28 16:00:00`, with the same offset note.
    pub fn label(&self, tz: Tz) -> String {
        let (Some(s), Some(e)) = (to_local(self.start, tz), to_local(self.end, tz)) else {
            // Local time is out of chrono's range: fall back to UTC.
            return format!(
                "{} – {}",
                self.start.format("%Y-%m-%d %H:%M:%S UTC"),
                self.end.format("%Y-%m-%d %H:%M:%S UTC")
            );
        };
        let date = s.date_naive();
        if day_interval(date, tz) == Some(*self) {
            return date.format("%Y-%m-%d").to_string();
        }
        let is_clock_hour = self.end - self.start == chrono::TimeDelta::seconds(HOUR_SECS)
            && s.minute() == 0
            && s.second() == 0
            && s.nanosecond() == 0;
        if is_clock_hour {
            return format!(
                "{} {}–{}{}",
                s.format("%Y-%m-%d"),
                s.format("%H:%M"),
                e.format("%H:%M"),
                offset_note(s, e, tz)
            );
        }
        format!(
            "{} – {}{}",
            s.format("%Y-%m-%d %H:%M:%S"),
            e.format("%Y-%m-%d %H:%M:%S"),
            offset_note(s, e, tz)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Window::*;
    use chrono::TimeDelta;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;
    const UTC: Tz = chrono_tz::UTC;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn iv(start: DateTime<Utc>, end: DateTime<Utc>) -> Interval {
        Interval { start, end }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn labels(w: Window, base: DateTime<Utc>, tz: Tz) -> Vec<String> {
        intervals(w, base, tz).iter().map(|i| i.label(tz)).collect()
    }

    /// Labels of consecutive days `first..=last`.
    fn day_labels(first: NaiveDate, last: NaiveDate) -> Vec<String> {
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    // ---------- every window for a fixed base (Wednesday 2026-03-18 10:30Z) ----------

    fn check_fixed_day_windows(tz: Tz) {
        let base = utc(2026, 3, 18, 10, 30);
        assert_eq!(labels(Today, base, tz), s(&["2026-03-18"]));
        assert_eq!(labels(Last1Days, base, tz), s(&["2026-03-17"]));
        assert_eq!(
            labels(Last2Days, base, tz),
            s(&["2026-03-16", "2026-03-17"])
        );
        assert_eq!(
            labels(Last3Days, base, tz),
            day_labels(date(2026, 3, 15), date(2026, 3, 17))
        );
        assert_eq!(
            labels(Last4Days, base, tz),
            day_labels(date(2026, 3, 14), date(2026, 3, 17))
        );
        assert_eq!(
            labels(Last5Days, base, tz),
            day_labels(date(2026, 3, 13), date(2026, 3, 17))
        );
        assert_eq!(
            labels(Last6Days, base, tz),
            day_labels(date(2026, 3, 12), date(2026, 3, 17))
        );
        assert_eq!(
            labels(Last7Days, base, tz),
            day_labels(date(2026, 3, 11), date(2026, 3, 17))
        );
        assert_eq!(
            labels(ThisWeek, base, tz),
            s(&["2026-03-16", "2026-03-17", "2026-03-18"])
        );
        assert_eq!(
            labels(LastWeek, base, tz),
            day_labels(date(2026, 3, 9), date(2026, 3, 15))
        );
        assert_eq!(
            labels(ThisMonth, base, tz),
            day_labels(date(2026, 3, 1), date(2026, 3, 18))
        );
        assert_eq!(
            labels(LastMonth, base, tz),
            day_labels(date(2026, 2, 1), date(2026, 2, 28))
        );
        assert_eq!(labels(LastMonthBegin, base, tz), s(&["2026-02-01"]));
        assert_eq!(labels(LastMonthEnd, base, tz), s(&["2026-02-28"]));
        assert_eq!(labels(LastMonday, base, tz), s(&["2026-03-09"]));
        assert_eq!(labels(LastTuesday, base, tz), s(&["2026-03-10"]));
        assert_eq!(labels(LastWednesday, base, tz), s(&["2026-03-11"]));
        assert_eq!(labels(LastThursday, base, tz), s(&["2026-03-12"]));
        assert_eq!(labels(LastFriday, base, tz), s(&["2026-03-13"]));
        assert_eq!(labels(LastSaturday, base, tz), s(&["2026-03-14"]));
        assert_eq!(labels(LastSunday, base, tz), s(&["2026-03-15"]));
    }

    #[test]
    fn fixed_base_utc_day_windows() {
        check_fixed_day_windows(UTC);
        let base = utc(2026, 3, 18, 10, 30);
        assert_eq!(
            intervals(Today, base, UTC),
            vec![iv(utc(2026, 3, 18, 0, 0), utc(2026, 3, 19, 0, 0))]
        );
        assert_eq!(
            intervals(Last1Days, base, UTC),
            vec![iv(utc(2026, 3, 17, 0, 0), utc(2026, 3, 18, 0, 0))]
        );
        assert_eq!(
            intervals(LastMonth, base, UTC).first().map(|i| i.start),
            Some(utc(2026, 2, 1, 0, 0))
        );
        assert_eq!(
            intervals(LastMonth, base, UTC).last().map(|i| i.end),
            Some(utc(2026, 3, 1, 0, 0))
        );
    }

    #[test]
    fn fixed_base_utc_hour_windows() {
        let base = utc(2026, 3, 18, 10, 30);
        assert_eq!(
            intervals(CurrentHour, base, UTC),
            vec![iv(utc(2026, 3, 18, 10, 0), utc(2026, 3, 18, 11, 0))]
        );
        assert_eq!(
            labels(CurrentHour, base, UTC),
            s(&["2026-03-18 10:00–11:00"])
        );
        assert_eq!(labels(Last1Hour, base, UTC), s(&["2026-03-18 09:00–10:00"]));
        assert_eq!(
            labels(Last2Hours, base, UTC),
            s(&["2026-03-18 08:00–09:00", "2026-03-18 09:00–10:00"])
        );
        assert_eq!(
            labels(Last3Hours, base, UTC),
            s(&[
                "2026-03-18 07:00–08:00",
                "2026-03-18 08:00–09:00",
                "2026-03-18 09:00–10:00"
            ])
        );
        let l24 = labels(Last24Hours, base, UTC);
        assert_eq!(l24.len(), 24);
        assert_eq!(l24[0], "2026-03-17 10:00–11:00");
        assert_eq!(l24[13], "2026-03-17 23:00–00:00");
        assert_eq!(l24[14], "2026-03-18 00:00–01:00");
        assert_eq!(l24[23], "2026-03-18 09:00–10:00");
        let i24 = intervals(Last24Hours, base, UTC);
        assert_eq!(i24[0].start, utc(2026, 3, 17, 10, 0));
        assert_eq!(i24[23].end, utc(2026, 3, 18, 10, 0));
    }

    #[test]
    fn fixed_base_berlin_day_windows() {
        check_fixed_day_windows(BERLIN);
        let base = utc(2026, 3, 18, 10, 30); // 11:30 CET
        assert_eq!(
            intervals(Today, base, BERLIN),
            vec![iv(utc(2026, 3, 17, 23, 0), utc(2026, 3, 18, 23, 0))]
        );
        assert_eq!(
            intervals(LastSunday, base, BERLIN),
            vec![iv(utc(2026, 3, 14, 23, 0), utc(2026, 3, 15, 23, 0))]
        );
        // Previous month in Berlin is CET throughout.
        let lm = intervals(LastMonth, base, BERLIN);
        assert_eq!(lm.first().map(|i| i.start), Some(utc(2026, 1, 31, 23, 0)));
        assert_eq!(lm.last().map(|i| i.end), Some(utc(2026, 2, 28, 23, 0)));
    }

    #[test]
    fn fixed_base_berlin_hour_windows() {
        let base = utc(2026, 3, 18, 10, 30); // 11:30 CET
        assert_eq!(
            intervals(CurrentHour, base, BERLIN),
            vec![iv(utc(2026, 3, 18, 10, 0), utc(2026, 3, 18, 11, 0))]
        );
        assert_eq!(
            labels(CurrentHour, base, BERLIN),
            s(&["2026-03-18 11:00–12:00"])
        );
        assert_eq!(
            labels(Last1Hour, base, BERLIN),
            s(&["2026-03-18 10:00–11:00"])
        );
        assert_eq!(
            labels(Last2Hours, base, BERLIN),
            s(&["2026-03-18 09:00–10:00", "2026-03-18 10:00–11:00"])
        );
        assert_eq!(
            labels(Last3Hours, base, BERLIN)[0],
            "2026-03-18 08:00–09:00"
        );
        let l24 = labels(Last24Hours, base, BERLIN);
        assert_eq!(
            l24.first().map(String::as_str),
            Some("2026-03-17 11:00–12:00")
        );
        assert_eq!(
            l24.last().map(String::as_str),
            Some("2026-03-18 10:00–11:00")
        );
    }

    #[test]
    fn local_date_differs_from_utc_date() {
        // 23:30Z on the 18th is 00:30 on the 19th in Berlin.
        let base = utc(2026, 3, 18, 23, 30);
        assert_eq!(labels(Today, base, BERLIN), s(&["2026-03-19"]));
        assert_eq!(labels(Today, base, UTC), s(&["2026-03-18"]));
        assert_eq!(labels(Last1Days, base, BERLIN), s(&["2026-03-18"]));
        assert_eq!(
            labels(CurrentHour, base, BERLIN),
            s(&["2026-03-19 00:00–01:00"])
        );
        assert_eq!(
            labels(Last1Hour, base, BERLIN),
            s(&["2026-03-18 23:00–00:00"])
        );
        // Sunday 22:30Z = Monday 00:30 CET: a new week has begun in Berlin but not in UTC.
        let base = utc(2026, 3, 22, 23, 30);
        assert_eq!(labels(ThisWeek, base, BERLIN), s(&["2026-03-23"]));
        assert_eq!(labels(ThisWeek, base, UTC).len(), 7);
        // 2026-02-28 23:30Z is already March in Berlin.
        let base = utc(2026, 2, 28, 23, 30);
        assert_eq!(labels(ThisMonth, base, BERLIN), s(&["2026-03-01"]));
        assert_eq!(labels(LastMonth, base, BERLIN).len(), 28);
        assert_eq!(labels(LastMonth, base, UTC).len(), 31); // January, seen from UTC February
    }

    // ---------- week boundaries ----------

    #[test]
    fn base_on_monday() {
        for tz in [UTC, BERLIN] {
            let base = utc(2026, 3, 16, 12, 0); // Monday
            assert_eq!(labels(ThisWeek, base, tz), s(&["2026-03-16"]));
            assert_eq!(
                labels(LastWeek, base, tz),
                day_labels(date(2026, 3, 9), date(2026, 3, 15))
            );
            assert_eq!(labels(LastMonday, base, tz), s(&["2026-03-09"]));
            assert_eq!(labels(LastSunday, base, tz), s(&["2026-03-15"]));
            assert_eq!(labels(Last1Days, base, tz), s(&["2026-03-15"]));
        }
    }

    #[test]
    fn base_on_sunday() {
        for tz in [UTC, BERLIN] {
            let base = utc(2026, 3, 22, 12, 0); // Sunday
            assert_eq!(
                labels(ThisWeek, base, tz),
                day_labels(date(2026, 3, 16), date(2026, 3, 22))
            );
            assert_eq!(
                labels(LastWeek, base, tz),
                day_labels(date(2026, 3, 9), date(2026, 3, 15))
            );
            assert_eq!(labels(LastMonday, base, tz), s(&["2026-03-09"]));
            assert_eq!(labels(LastSunday, base, tz), s(&["2026-03-15"]));
            assert_eq!(labels(Today, base, tz), s(&["2026-03-22"]));
        }
    }

    #[test]
    fn week_spanning_year_boundary() {
        // 2026-01-01 is a Thursday; its week began Monday 2025-12-29.
        let base = utc(2026, 1, 1, 12, 0);
        assert_eq!(
            labels(ThisWeek, base, UTC),
            s(&["2025-12-29", "2025-12-30", "2025-12-31", "2026-01-01"])
        );
        assert_eq!(
            labels(LastWeek, base, UTC),
            day_labels(date(2025, 12, 22), date(2025, 12, 28))
        );
        assert_eq!(labels(LastFriday, base, UTC), s(&["2025-12-26"]));
    }

    // ---------- month boundaries ----------

    #[test]
    fn january_first_last_month_is_previous_december() {
        for tz in [UTC, BERLIN] {
            let base = utc(2026, 1, 1, 12, 0);
            assert_eq!(
                labels(LastMonth, base, tz),
                day_labels(date(2025, 12, 1), date(2025, 12, 31))
            );
            assert_eq!(labels(LastMonthBegin, base, tz), s(&["2025-12-01"]));
            assert_eq!(labels(LastMonthEnd, base, tz), s(&["2025-12-31"]));
            assert_eq!(labels(ThisMonth, base, tz), s(&["2026-01-01"]));
            assert_eq!(
                labels(Last7Days, base, tz),
                day_labels(date(2025, 12, 25), date(2025, 12, 31))
            );
            assert_eq!(labels(Last24Hours, base, tz).len(), 24);
        }
        assert_eq!(
            intervals(LastMonthEnd, utc(2026, 1, 1, 12, 0), BERLIN),
            vec![iv(utc(2025, 12, 30, 23, 0), utc(2025, 12, 31, 23, 0))]
        );
    }

    #[test]
    fn leap_february() {
        let base = utc(2028, 3, 10, 12, 0);
        for tz in [UTC, BERLIN] {
            let lm = intervals(LastMonth, base, tz);
            assert_eq!(lm.len(), 29);
            assert_eq!(
                lm.last().map(|i| i.label(tz)),
                Some("2028-02-29".to_string())
            );
            assert_eq!(labels(LastMonthEnd, base, tz), s(&["2028-02-29"]));
            assert_eq!(labels(LastMonthBegin, base, tz), s(&["2028-02-01"]));
        }
        // Non-leap February, and a 30-day month.
        assert_eq!(intervals(LastMonth, utc(2026, 3, 31, 12, 0), UTC).len(), 28);
        assert_eq!(intervals(LastMonth, utc(2026, 5, 31, 12, 0), UTC).len(), 30);
        assert_eq!(intervals(LastMonth, utc(2100, 3, 1, 12, 0), UTC).len(), 28); // 2100 is not leap
        assert_eq!(intervals(LastMonth, utc(2000, 3, 1, 12, 0), UTC).len(), 29); // 2000 is
        // This month on leap day itself.
        assert_eq!(intervals(ThisMonth, utc(2028, 2, 29, 12, 0), UTC).len(), 29);
        // Last month end from the 31st of a month following a 30-day month.
        assert_eq!(
            labels(LastMonthEnd, utc(2026, 7, 31, 12, 0), UTC),
            s(&["2026-06-30"])
        );
    }

    // ---------- DST in Europe/Berlin ----------

    #[test]
    fn berlin_spring_forward_day_is_23_hours() {
        let base = utc(2026, 3, 30, 12, 0);
        let y = intervals(Last1Days, base, BERLIN);
        assert_eq!(
            y,
            vec![iv(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0))]
        );
        assert_eq!(y[0].end - y[0].start, TimeDelta::hours(23));
        assert_eq!(y[0].label(BERLIN), "2026-03-29");
        // On the day itself.
        let t = intervals(Today, utc(2026, 3, 29, 12, 0), BERLIN);
        assert_eq!(t, y);
        // Week containing it: Monday 23rd .. Sunday 29th, 6*24 + 23 hours.
        let w = intervals(LastWeek, base, BERLIN);
        assert_eq!(w.len(), 7);
        assert_eq!(w[6].end - w[0].start, TimeDelta::hours(6 * 24 + 23));
        assert_eq!(intervals(LastSunday, base, BERLIN), y);
    }

    #[test]
    fn berlin_fall_back_day_is_25_hours() {
        let base = utc(2026, 10, 26, 12, 0);
        let y = intervals(Last1Days, base, BERLIN);
        assert_eq!(
            y,
            vec![iv(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0))]
        );
        assert_eq!(y[0].end - y[0].start, TimeDelta::hours(25));
        assert_eq!(y[0].label(BERLIN), "2026-10-25");
        // The whole of October: 31 days plus one hour.
        let lm = intervals(LastMonth, utc(2026, 11, 5, 12, 0), BERLIN);
        assert_eq!(lm.len(), 31);
        assert_eq!(lm[30].end - lm[0].start, TimeDelta::hours(31 * 24 + 1));
    }

    #[test]
    fn berlin_hours_across_spring_forward() {
        // 01:30Z on 2026-03-29 is 03:30 CEST; the hour before it spans local 01:00–03:00.
        let base = utc(2026, 3, 29, 1, 30);
        assert_eq!(
            intervals(CurrentHour, base, BERLIN),
            vec![iv(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))]
        );
        assert_eq!(
            labels(CurrentHour, base, BERLIN),
            s(&["2026-03-29 03:00–04:00"])
        );
        assert_eq!(
            intervals(Last1Hour, base, BERLIN),
            vec![iv(utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 0))]
        );
        assert_eq!(
            labels(Last1Hour, base, BERLIN),
            s(&["2026-03-29 01:00–03:00 (UTC+01:00→UTC+02:00)"])
        );
        // 24 real hours back from 14:00 CEST reach 13:00 CET the day before.
        let l = intervals(Last24Hours, utc(2026, 3, 29, 12, 0), BERLIN);
        assert_eq!(l.len(), 24);
        assert_eq!(l[0].start, utc(2026, 3, 28, 12, 0));
        assert_eq!(l[0].label(BERLIN), "2026-03-28 13:00–14:00");
        assert_eq!(l[23].label(BERLIN), "2026-03-29 13:00–14:00");
    }

    #[test]
    fn berlin_hours_across_fall_back() {
        // 02:30 occurs twice on 2026-10-25: at 00:30Z (CEST) and 01:30Z (CET).
        let first = utc(2026, 10, 25, 0, 30);
        let second = utc(2026, 10, 25, 1, 30);
        assert_eq!(
            intervals(CurrentHour, first, BERLIN),
            vec![iv(utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 1, 0))]
        );
        assert_eq!(
            intervals(CurrentHour, second, BERLIN),
            vec![iv(utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 2, 0))]
        );
        assert_eq!(
            labels(CurrentHour, first, BERLIN),
            s(&["2026-10-25 02:00–02:00 (UTC+02:00→UTC+01:00)"])
        );
        assert_eq!(
            labels(CurrentHour, second, BERLIN),
            s(&["2026-10-25 02:00–03:00 (UTC+01:00)"])
        );
        assert_eq!(
            labels(Last1Hour, second, BERLIN),
            labels(CurrentHour, first, BERLIN)
        );
        assert_eq!(
            labels(Last1Hour, first, BERLIN),
            s(&["2026-10-25 01:00–02:00 (UTC+02:00)"])
        );
        let l = labels(Last3Hours, utc(2026, 10, 25, 2, 30), BERLIN);
        assert_eq!(
            l,
            s(&[
                "2026-10-25 01:00–02:00 (UTC+02:00)",
                "2026-10-25 02:00–02:00 (UTC+02:00→UTC+01:00)",
                "2026-10-25 02:00–03:00 (UTC+01:00)",
            ])
        );
        // The same hour labels are all distinct across a 25-hour day.
        let l = labels(Last24Hours, utc(2026, 10, 25, 23, 0), BERLIN);
        let mut dedup = l.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 24);
    }

    // ---------- zones where local midnight is skipped or repeated ----------

    #[test]
    fn havana_skipped_midnight() {
        let tz = chrono_tz::America::Havana;
        // Sanity: chrono-tz really has no 00:00 on 2026-03-08 in Havana.
        assert!(matches!(
            tz.from_local_datetime(&date(2026, 3, 8).and_time(NaiveTime::MIN)),
            LocalResult::None
        ));
        // Day 2026-03-08 begins at the transition (00:00 CST = 05:00Z, shown as 01:00 CDT).
        let base = utc(2026, 3, 9, 17, 0);
        let l2 = intervals(Last2Days, base, tz);
        assert_eq!(
            l2,
            vec![
                iv(utc(2026, 3, 7, 5, 0), utc(2026, 3, 8, 5, 0)),
                iv(utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0)),
            ]
        );
        assert_eq!(l2[1].end - l2[1].start, TimeDelta::hours(23));
        assert_eq!(
            l2.iter().map(|i| i.label(tz)).collect::<Vec<_>>(),
            s(&["2026-03-07", "2026-03-08"])
        );
        // Base inside the skipped day: Today starts at 01:00 CDT.
        let today = intervals(Today, utc(2026, 3, 8, 12, 0), tz);
        assert_eq!(
            today,
            vec![iv(utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0))]
        );
        assert_eq!(
            today[0]
                .start
                .with_timezone(&tz)
                .format("%H:%M")
                .to_string(),
            "01:00"
        );
    }

    #[test]
    fn havana_repeated_midnight_takes_earlier() {
        let tz = chrono_tz::America::Havana;
        assert!(matches!(
            tz.from_local_datetime(&date(2026, 11, 1).and_time(NaiveTime::MIN)),
            LocalResult::Ambiguous(..)
        ));
        // 00:00 on 2026-11-01 is both 04:00Z (CDT) and 05:00Z (CST): the day starts at 04:00Z.
        let base = utc(2026, 11, 2, 17, 0);
        let l2 = intervals(Last2Days, base, tz);
        assert_eq!(
            l2,
            vec![
                iv(utc(2026, 10, 31, 4, 0), utc(2026, 11, 1, 4, 0)),
                iv(utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0)),
            ]
        );
        assert_eq!(l2[1].end - l2[1].start, TimeDelta::hours(25));
        assert_eq!(
            l2.iter().map(|i| i.label(tz)).collect::<Vec<_>>(),
            s(&["2026-10-31", "2026-11-01"])
        );
        // A base in the repeated 00:xx hour (second pass, CST) still belongs to 2026-11-01.
        let base = utc(2026, 11, 1, 5, 30);
        assert_eq!(labels(Today, base, tz), s(&["2026-11-01"]));
        assert_eq!(labels(Last1Days, base, tz), s(&["2026-10-31"]));
        assert_eq!(
            labels(CurrentHour, base, tz),
            s(&["2026-11-01 00:00–01:00 (UTC-05:00)"])
        );
        assert_eq!(
            labels(Last1Hour, base, tz),
            s(&["2026-11-01 00:00–00:00 (UTC-04:00→UTC-05:00)"])
        );
    }

    #[test]
    fn santiago_skipped_midnight() {
        let tz = chrono_tz::America::Santiago;
        assert!(matches!(
            tz.from_local_datetime(&date(2026, 9, 6).and_time(NaiveTime::MIN)),
            LocalResult::None
        ));
        // Chile springs forward at 24:00 Saturday (-04 → -03), i.e. 04:00Z.
        let l = intervals(Last2Days, utc(2026, 9, 7, 15, 0), tz);
        assert_eq!(
            l,
            vec![
                iv(utc(2026, 9, 5, 4, 0), utc(2026, 9, 6, 4, 0)),
                iv(utc(2026, 9, 6, 4, 0), utc(2026, 9, 7, 3, 0)),
            ]
        );
        assert_eq!(l[1].label(tz), "2026-09-06");
    }

    #[test]
    fn sao_paulo_has_no_dst_now() {
        // Brazil abolished DST in 2019: every day is 24 hours at -03.
        let tz = chrono_tz::America::Sao_Paulo;
        let l = intervals(LastMonth, utc(2026, 11, 15, 12, 0), tz);
        assert_eq!(l.len(), 31);
        assert!(l.iter().all(|i| i.end - i.start == TimeDelta::hours(24)));
        assert_eq!(l[0].start, utc(2026, 10, 1, 3, 0));
        // Historically (2018-11-04) São Paulo skipped midnight.
        let l = intervals(Last1Days, utc(2018, 11, 5, 12, 0), tz);
        assert_eq!(l, vec![iv(utc(2018, 11, 4, 3, 0), utc(2018, 11, 5, 2, 0))]);
        assert_eq!(l[0].label(tz), "2018-11-04");
    }

    #[test]
    fn apia_nonexistent_day_is_dropped() {
        // Samoa skipped 2011-12-30 entirely (jumped from -10 to +14).
        let tz = chrono_tz::Pacific::Apia;
        let base = utc(2011, 12, 31, 0, 0); // 14:00 on 2011-12-31 local
        assert_eq!(labels(Today, base, tz), s(&["2011-12-31"]));
        assert_eq!(intervals(Last1Days, base, tz), vec![]);
        assert_eq!(labels(Last2Days, base, tz), s(&["2011-12-29"]));
        // 2011-12-31 is a Saturday: Mon 26 .. Sat 31, without the 30th, still contiguous.
        let w = intervals(ThisWeek, base, tz);
        assert_eq!(
            w.iter().map(|i| i.label(tz)).collect::<Vec<_>>(),
            s(&[
                "2011-12-26",
                "2011-12-27",
                "2011-12-28",
                "2011-12-29",
                "2011-12-31"
            ])
        );
        assert!(w.windows(2).all(|p| p[0].end == p[1].start));
        assert_eq!(intervals(ThisMonth, base, tz).len(), 30);
    }

    #[test]
    fn half_hour_offsets_align_hours_locally() {
        let kolkata = chrono_tz::Asia::Kolkata; // +05:30
        let base = utc(2026, 3, 18, 10, 0); // 15:30 IST
        assert_eq!(
            intervals(CurrentHour, base, kolkata),
            vec![iv(utc(2026, 3, 18, 9, 30), utc(2026, 3, 18, 10, 30))]
        );
        assert_eq!(
            labels(CurrentHour, base, kolkata),
            s(&["2026-03-18 15:00–16:00"])
        );
        assert_eq!(labels(Today, base, kolkata), s(&["2026-03-18"]));
        assert_eq!(
            intervals(Today, base, kolkata)[0].start,
            utc(2026, 3, 17, 18, 30)
        );
        let kathmandu = chrono_tz::Asia::Kathmandu; // +05:45
        assert_eq!(
            labels(Last1Hour, base, kathmandu),
            s(&["2026-03-18 14:00–15:00"])
        );
        assert_eq!(
            intervals(Last1Hour, base, kathmandu)[0].start,
            utc(2026, 3, 18, 8, 15)
        );
    }

    #[test]
    fn general_label() {
        let i = iv(utc(2026, 3, 28, 13, 30), utc(2026, 3, 28, 15, 0));
        assert_eq!(i.label(BERLIN), "2026-03-28 14:30:00 – 2026-03-28 16:00:00");
        assert_eq!(i.label(UTC), "2026-03-28 13:30:00 – 2026-03-28 15:00:00");
        // Two whole days are not "a day".
        let i = iv(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0));
        assert_eq!(i.label(UTC), "2026-03-28 00:00:00 – 2026-03-30 00:00:00");
        // A UTC day is not a Berlin day.
        let i = iv(utc(2026, 3, 18, 0, 0), utc(2026, 3, 19, 0, 0));
        assert_eq!(i.label(UTC), "2026-03-18");
        assert_eq!(i.label(BERLIN), "2026-03-18 01:00:00 – 2026-03-19 01:00:00");
    }

    // ---------- properties ----------

    const DAY_WINDOWS_BEFORE_TODAY: [Window; 18] = [
        Last1Days,
        Last2Days,
        Last3Days,
        Last4Days,
        Last5Days,
        Last6Days,
        Last7Days,
        LastWeek,
        LastMonth,
        LastMonthBegin,
        LastMonthEnd,
        LastMonday,
        LastTuesday,
        LastWednesday,
        LastThursday,
        LastFriday,
        LastSaturday,
        LastSunday,
    ];

    fn expected_len(w: Window, base: DateTime<Utc>, tz: Tz) -> Option<usize> {
        let today = base.with_timezone(&tz).date_naive();
        Some(match w {
            Today | LastMonthBegin | LastMonthEnd | CurrentHour | Last1Hour => 1,
            LastMonday | LastTuesday | LastWednesday | LastThursday | LastFriday | LastSaturday
            | LastSunday => 1,
            Last1Days => 1,
            Last2Days | Last2Hours => 2,
            Last3Days | Last3Hours => 3,
            Last4Days => 4,
            Last5Days => 5,
            Last6Days => 6,
            Last7Days | LastWeek => 7,
            Last24Hours => 24,
            ThisWeek => today.weekday().num_days_from_monday() as usize + 1,
            ThisMonth => today.day() as usize,
            LastMonth => return None,
        })
    }

    const ZONES: [Tz; 16] = [
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::Havana,
        chrono_tz::America::Santiago,
        chrono_tz::America::Sao_Paulo,
        chrono_tz::America::New_York,
        chrono_tz::America::St_Johns,
        chrono_tz::Africa::Cairo,
        chrono_tz::Asia::Beirut,
        chrono_tz::Atlantic::Azores,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Auckland,
        chrono_tz::Pacific::Chatham,
        chrono_tz::Pacific::Kiritimati,
    ];

    #[test]
    fn properties_over_many_bases_and_zones() {
        let mut checked = 0usize;
        for tz in ZONES {
            // Every 7h13m through 2026 plus early 2027 hits every hour of day and every weekday.
            let mut base = utc(2026, 1, 1, 0, 7);
            while base < utc(2027, 2, 1, 0, 0) {
                let today = base.with_timezone(&tz).date_naive();
                let day = day_interval(today, tz).expect("today exists");
                assert!(day.start <= base && base < day.end, "{tz} {base}");
                let day_hours = (day.end - day.start).num_minutes();
                assert!(
                    (22 * 60..=26 * 60).contains(&day_hours),
                    "{tz} {base} {day_hours}"
                );

                for w in Window::ALL {
                    let v = intervals(w, base, tz);
                    let ctx = format!("{tz} {base} {w:?}");
                    if let Some(n) = expected_len(w, base, tz) {
                        assert_eq!(v.len(), n, "{ctx}");
                    } else {
                        assert!((28..=31).contains(&v.len()), "{ctx}");
                    }
                    assert!(v.iter().all(|i| i.start < i.end), "{ctx}");
                    // Oldest first, contiguous, non-overlapping.
                    assert!(v.windows(2).all(|p| p[0].end == p[1].start), "{ctx}");

                    if w.is_hourly() {
                        assert!(
                            v.iter().all(|i| i.end - i.start == TimeDelta::hours(1)),
                            "{ctx}"
                        );
                        let cur = intervals(CurrentHour, base, tz)[0];
                        if w == CurrentHour {
                            assert!(cur.start <= base && base < cur.end, "{ctx}");
                        } else {
                            assert_eq!(v.last().map(|i| i.end), Some(cur.start), "{ctx}");
                        }
                        // The current hour starts on a local hour boundary (base's offset).
                        let off =
                            i64::from(base.with_timezone(&tz).offset().fix().local_minus_utc());
                        assert_eq!((cur.start.timestamp() + off).rem_euclid(3600), 0, "{ctx}");
                    } else {
                        // Each is exactly one whole local day, and labelled as a date.
                        for i in &v {
                            let d = i.start.with_timezone(&tz).date_naive();
                            assert_eq!(day_interval(d, tz), Some(*i), "{ctx}");
                            assert_eq!(i.label(tz), d.format("%Y-%m-%d").to_string(), "{ctx}");
                        }
                    }
                    if DAY_WINDOWS_BEFORE_TODAY.contains(&w) {
                        assert!(v.iter().all(|i| i.end <= day.start), "{ctx}");
                    }
                    if matches!(
                        w,
                        Last1Days
                            | Last2Days
                            | Last3Days
                            | Last4Days
                            | Last5Days
                            | Last6Days
                            | Last7Days
                    ) {
                        assert_eq!(v.last().map(|i| i.end), Some(day.start), "{ctx}");
                    }
                    if matches!(w, Today | ThisWeek | ThisMonth) {
                        assert_eq!(v.last(), Some(&day), "{ctx}");
                    }
                    if w == ThisWeek || w == LastWeek {
                        let first = v[0].start.with_timezone(&tz).date_naive();
                        assert_eq!(first.weekday(), chrono::Weekday::Mon, "{ctx}");
                    }
                    if w == LastWeek {
                        assert_eq!(v[6].end, intervals(ThisWeek, base, tz)[0].start, "{ctx}");
                    }
                    if w == LastMonth {
                        assert_eq!(
                            v.last().map(|i| i.end),
                            intervals(ThisMonth, base, tz).first().map(|i| i.start),
                            "{ctx}"
                        );
                        assert_eq!(
                            v.first(),
                            intervals(LastMonthBegin, base, tz).first(),
                            "{ctx}"
                        );
                        assert_eq!(v.last(), intervals(LastMonthEnd, base, tz).first(), "{ctx}");
                    }
                    checked += 1;
                }
                base += TimeDelta::minutes(7 * 60 + 13);
            }
        }
        assert!(checked > 100_000, "{checked}");
    }

    #[test]
    fn last_weekdays_are_last_week() {
        let days = [
            LastMonday,
            LastTuesday,
            LastWednesday,
            LastThursday,
            LastFriday,
            LastSaturday,
            LastSunday,
        ];
        for tz in [UTC, BERLIN, chrono_tz::America::Havana] {
            for d in 0..14 {
                let base = utc(2026, 10, 19, 12, 0) + TimeDelta::days(d);
                let week = intervals(LastWeek, base, tz);
                let singles: Vec<Interval> =
                    days.iter().flat_map(|w| intervals(*w, base, tz)).collect();
                assert_eq!(week, singles, "{tz} {base}");
            }
        }
    }

    #[test]
    fn never_panics_at_extremes() {
        let bases = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC + TimeDelta::days(3),
            DateTime::<Utc>::MAX_UTC - TimeDelta::days(3),
            DateTime::<Utc>::UNIX_EPOCH,
            utc(1, 1, 1, 0, 0),
            utc(1883, 11, 18, 12, 0), // US railway time, LMT offsets with seconds
        ];
        for base in bases {
            for tz in ZONES.iter().copied().chain([
                chrono_tz::Pacific::Apia,
                chrono_tz::Etc::GMTPlus12,
                chrono_tz::Etc::GMTMinus14,
            ]) {
                for w in Window::ALL {
                    for i in intervals(w, base, tz) {
                        assert!(i.start < i.end);
                        let _ = i.label(tz);
                    }
                }
            }
        }
        // Degenerate and reversed intervals still label.
        let t = utc(2026, 1, 1, 0, 0);
        let _ = iv(t, t).label(BERLIN);
        let _ = iv(t + TimeDelta::hours(1), t).label(BERLIN);
        let _ = iv(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
            .label(chrono_tz::Pacific::Kiritimati);
        // Far from the extremes, full results are produced.
        assert_eq!(
            intervals(LastMonth, DateTime::<Utc>::UNIX_EPOCH, UTC).len(),
            31
        );
    }

    #[test]
    fn lmt_offsets_with_seconds() {
        // Before 1893 Berlin used LMT +00:53:28; the hour still starts on a local :00:00.
        let base = utc(1880, 6, 1, 12, 0);
        let cur = intervals(CurrentHour, base, BERLIN)[0];
        assert_eq!(
            cur.start
                .with_timezone(&BERLIN)
                .format("%H:%M:%S")
                .to_string(),
            "12:00:00"
        );
        assert_eq!(
            labels(CurrentHour, base, BERLIN),
            s(&["1880-06-01 12:00–13:00"])
        );
        assert_eq!(labels(Today, base, BERLIN), s(&["1880-06-01"]));
    }
}
