//! Backfill dates: which schedule times a backfill runs, in which order. Pure.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::cron::{Schedule, resolve_local};

/// Most dates one backfill may hold.
pub const MAX_DATES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// What to backfill: a range of days (both ends included) or a list of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Range { from: NaiveDate, to: NaiveDate },
    Dates(Vec<NaiveDate>),
}

/// The schedule times of a backfill, in run order. With a schedule they are its fire times
/// on those days (in its time zone); without one, midnight of each day in `tz`.
pub fn schedule_times(
    schedule: Option<&Schedule>,
    tz: chrono_tz::Tz,
    span: &Span,
    order: Order,
) -> Result<Vec<DateTime<Utc>>, String> {
    let mut days: Vec<NaiveDate> = match span {
        Span::Range { from, to } => {
            if from > to {
                return Err(format!("from {from} is after to {to}"));
            }
            let mut days = Vec::new();
            let mut day = *from;
            while day <= *to {
                days.push(day);
                if days.len() > MAX_DATES {
                    return Err(format!("a backfill holds at most {MAX_DATES} dates"));
                }
                day = day
                    .checked_add_days(Days::new(1))
                    .ok_or("date out of range")?;
            }
            days
        }
        Span::Dates(list) => {
            if list.is_empty() {
                return Err("dates is empty".into());
            }
            list.clone()
        }
    };
    days.sort();
    days.dedup();
    let midnight =
        |day: NaiveDate| resolve_local(&tz, day.and_hms_opt(0, 0, 0).expect("midnight exists"));
    let mut times = Vec::new();
    for day in days {
        let start = midnight(day).ok_or_else(|| format!("{day} has no midnight in {tz}"))?;
        match schedule {
            None => times.push(start),
            Some(schedule) => {
                let next_day = day
                    .checked_add_days(Days::new(1))
                    .ok_or("date out of range")?;
                let end = midnight(next_day)
                    .ok_or_else(|| format!("{next_day} has no midnight in {tz}"))?;
                // Fire times in [start, end): `between` takes (from, to].
                let fires = schedule.between(
                    start - chrono::Duration::milliseconds(1),
                    end,
                    MAX_DATES + 1,
                );
                times.extend(fires.into_iter().filter(|t| *t < end));
            }
        }
        if times.len() > MAX_DATES {
            return Err(format!("a backfill holds at most {MAX_DATES} dates"));
        }
    }
    if times.is_empty() {
        return Err("the schedule does not fire on any of these days".into());
    }
    if order == Order::Desc {
        times.reverse();
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn without_a_schedule_each_day_runs_at_midnight_in_the_zone() {
        let times = schedule_times(
            None,
            chrono_tz::Europe::Berlin,
            &Span::Range {
                from: d("2026-01-01"),
                to: d("2026-01-03"),
            },
            Order::Asc,
        )
        .unwrap();
        let text: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            text,
            [
                "2025-12-31T23:00:00+00:00",
                "2026-01-01T23:00:00+00:00",
                "2026-01-02T23:00:00+00:00"
            ]
        );
    }

    #[test]
    fn with_a_schedule_its_fire_times_in_the_range_run_in_the_asked_order() {
        let schedule = Schedule::new("0 0 2,14 * * ?", "UTC").unwrap();
        let times = schedule_times(
            Some(&schedule),
            chrono_tz::UTC,
            &Span::Dates(vec![d("2026-02-02"), d("2026-02-01")]),
            Order::Desc,
        )
        .unwrap();
        let text: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            text,
            [
                "2026-02-02T14:00:00+00:00",
                "2026-02-02T02:00:00+00:00",
                "2026-02-01T14:00:00+00:00",
                "2026-02-01T02:00:00+00:00"
            ]
        );
    }

    #[test]
    fn bad_spans_are_rejected_with_a_reason() {
        let utc = chrono_tz::UTC;
        assert!(
            schedule_times(
                None,
                utc,
                &Span::Range {
                    from: d("2026-02-02"),
                    to: d("2026-02-01")
                },
                Order::Asc
            )
            .is_err()
        );
        assert!(schedule_times(None, utc, &Span::Dates(vec![]), Order::Asc).is_err());
        assert!(
            schedule_times(
                None,
                utc,
                &Span::Range {
                    from: d("2000-01-01"),
                    to: d("2100-01-01")
                },
                Order::Asc
            )
            .is_err()
        );
        let yearly = Schedule::new("0 0 0 1 1 ?", "UTC").unwrap();
        assert!(
            schedule_times(
                Some(&yearly),
                utc,
                &Span::Dates(vec![d("2026-02-02")]),
                Order::Asc
            )
            .is_err()
        );
    }
}
