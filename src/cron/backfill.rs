//! Backfill planning: which schedule times a backfill runs, in which order, how many at
//! once. Pure: `store::backfills` loads the workflow's schedule, calls [`plan`] and writes
//! the rows; the CLI, REST and the bench build a [`Request`].

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::{Schedule, resolve_local};
use crate::spec::ScheduleSpec;

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

/// What a user asks for: the days, how to run them, and the startup params.
#[derive(Debug, Clone)]
pub struct Request {
    pub span: Span,
    pub serial: bool,
    pub parallelism: i32,
    pub descending: bool,
    pub stop_on_failure: bool,
    pub params: serde_json::Value,
    /// Command options every date's start carries (execution overrides).
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl Request {
    /// What can be refused without knowing the workflow; checked before the workflow is
    /// looked up, so a bad request is refused as such even for a missing workflow.
    pub fn check(&self) -> Result<(), String> {
        if self.parallelism < 1 {
            return Err("parallelism must be at least 1".into());
        }
        Ok(())
    }

    pub fn order(&self) -> Order {
        if self.descending {
            Order::Desc
        } else {
            Order::Asc
        }
    }
}

/// A backfill ready to be written: its schedule times in run order, and how many of them
/// may run at once (1 in serial mode, whatever was asked).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub times: Vec<DateTime<Utc>>,
    pub parallelism: i32,
}

/// Plan `request` for a workflow with `schedule` (its fire times on those days, in its
/// zone) or without one (midnight UTC of each day).
pub fn plan(schedule: Option<&ScheduleSpec>, request: &Request) -> Result<Plan, String> {
    request.check()?;
    let (schedule, tz) = match schedule {
        Some(s) => {
            let schedule = Schedule::new(&s.cron, &s.timezone).map_err(|e| e.to_string())?;
            let tz = schedule.tz;
            (Some(schedule), tz)
        }
        None => (None, chrono_tz::UTC),
    };
    let times = schedule_times(schedule.as_ref(), tz, &request.span, request.order())?;
    Ok(Plan {
        times,
        parallelism: if request.serial {
            1
        } else {
            request.parallelism
        },
    })
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
    use proptest::prelude::*;

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

    fn request(span: Span) -> Request {
        Request {
            span,
            serial: false,
            parallelism: 3,
            descending: false,
            stop_on_failure: false,
            params: serde_json::json!({}),
            options: Default::default(),
        }
    }

    fn schedule(cron: &str, timezone: &str) -> ScheduleSpec {
        ScheduleSpec {
            cron: cron.into(),
            timezone: timezone.into(),
            start: None,
            end: None,
            misfire: Default::default(),
            enabled: true,
        }
    }

    #[test]
    fn a_plan_uses_the_workflow_schedule_and_its_zone() {
        let span = Span::Dates(vec![d("2026-03-29")]);
        // The spring-forward day in Berlin: 02:30 does not exist and fires at 03:30 CEST.
        let spec = schedule("0 30 2 * * ?", "Europe/Berlin");
        let plan = plan(Some(&spec), &request(span.clone())).unwrap();
        let text: Vec<String> = plan.times.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(text, ["2026-03-29T01:30:00+00:00"]);
        assert_eq!(plan.parallelism, 3);
        // Without a schedule: midnight UTC.
        let plan = super::plan(None, &request(span)).unwrap();
        assert_eq!(plan.times[0].to_rfc3339(), "2026-03-29T00:00:00+00:00");
    }

    #[test]
    fn serial_plans_run_one_at_a_time_and_bad_requests_are_refused() {
        let span = Span::Dates(vec![d("2026-01-01")]);
        let serial = Request {
            serial: true,
            ..request(span.clone())
        };
        assert_eq!(plan(None, &serial).unwrap().parallelism, 1);
        let zero = Request {
            parallelism: 0,
            ..request(span.clone())
        };
        assert_eq!(
            plan(None, &zero).unwrap_err(),
            "parallelism must be at least 1"
        );
        assert!(zero.check().is_err());
        let bad_cron = schedule("61 * * * * ?", "UTC");
        assert!(plan(Some(&bad_cron), &request(span.clone())).is_err());
        let bad_zone = schedule("0 0 0 * * ?", "Mars/Olympus");
        assert!(plan(Some(&bad_zone), &request(span)).is_err());
    }

    fn day_in(range: std::ops::Range<u32>) -> impl Strategy<Value = NaiveDate> {
        range.prop_map(|n| d("2024-01-01") + Days::new(n as u64))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Without a schedule, a range gives one time per day, each at the day's midnight
        /// in the zone, strictly ordered; descending is ascending reversed.
        #[test]
        fn a_range_without_a_schedule_is_one_midnight_per_day(
            from in day_in(0..900),
            len in 0u32..60,
            zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"]),
        ) {
            let tz = super::super::parse_zone(zone).unwrap();
            let to = from + Days::new(len as u64);
            let span = Span::Range { from, to };
            let asc = schedule_times(None, tz, &span, Order::Asc).unwrap();
            prop_assert_eq!(asc.len(), len as usize + 1);
            prop_assert!(asc.windows(2).all(|w| w[0] < w[1]));
            for (i, t) in asc.iter().enumerate() {
                let local = t.with_timezone(&tz);
                prop_assert_eq!(local.date_naive(), from + Days::new(i as u64));
            }
            let mut desc = schedule_times(None, tz, &span, Order::Desc).unwrap();
            desc.reverse();
            prop_assert_eq!(desc, asc);
        }

        /// With a schedule, every time is a fire time on one of the asked days (in the
        /// schedule's zone), none twice, in order; listing the days in any order, with
        /// repeats, plans the same times.
        #[test]
        fn scheduled_times_fall_on_the_asked_days(
            days in prop::collection::vec(day_in(0..900), 1..6),
            hours in prop::sample::select(vec!["*/5", "2,14", "0", "23", "1-3"]),
            zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York"]),
        ) {
            let spec = schedule(&format!("0 0 {hours} * * ?"), zone);
            let schedule = Schedule::new(&spec.cron, &spec.timezone).unwrap();
            let tz = schedule.tz;
            let times = schedule_times(Some(&schedule), tz, &Span::Dates(days.clone()), Order::Asc).unwrap();
            prop_assert!(times.windows(2).all(|w| w[0] < w[1]));
            for t in &times {
                prop_assert!(days.contains(&t.with_timezone(&tz).date_naive()), "{} not on {:?}", t, days);
            }
            let mut shuffled = days.clone();
            shuffled.reverse();
            shuffled.extend(days.iter().copied());
            let again = schedule_times(Some(&schedule), tz, &Span::Dates(shuffled), Order::Asc).unwrap();
            prop_assert_eq!(&again, &times);
            // Each distinct day has at least one fire time (every hour list fires daily).
            let mut distinct = days.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert!(times.len() >= distinct.len());
        }
    }
}
