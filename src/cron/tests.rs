use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad test instant {s}: {e}"))
        .to_utc()
}

fn sched(expr: &str, tz: &str) -> Schedule {
    Schedule::new(expr, tz).unwrap_or_else(|e| panic!("{e}"))
}

fn rfc(times: &[DateTime<Utc>]) -> Vec<String> {
    times
        .iter()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .collect()
}

fn err(expr: &str) -> String {
    match expr.parse::<CronExpr>() {
        Ok(_) => panic!("{expr:?} should not parse"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Expression vectors: (expression, zone, after, expected next fire time in UTC).
// 2026-01-01 is a Thursday.

const VECTORS: &[(&str, &str, &str, Option<&str>)] = &[
    // Quartz basics
    (
        "0 0 2 * * ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-01T02:00:00Z"),
    ),
    (
        "0 0 2 * * *",
        "UTC",
        "2026-01-01T02:00:00Z",
        Some("2026-01-02T02:00:00Z"),
    ),
    (
        "30 15 10 * * ?",
        "UTC",
        "2026-01-01T10:15:30Z",
        Some("2026-01-02T10:15:30Z"),
    ),
    (
        "30 15 10 * * ?",
        "UTC",
        "2026-01-01T10:15:29.5Z",
        Some("2026-01-01T10:15:30Z"),
    ),
    (
        "0 0/5 * * * ?",
        "UTC",
        "2026-01-01T00:07:30Z",
        Some("2026-01-01T00:10:00Z"),
    ),
    (
        "0 */15 9-17 * * ?",
        "UTC",
        "2026-01-01T17:50:00Z",
        Some("2026-01-02T09:00:00Z"),
    ),
    (
        "0 0 8-10/2 * * ?",
        "UTC",
        "2026-01-01T08:00:00Z",
        Some("2026-01-01T10:00:00Z"),
    ),
    (
        "*/20 * * * * ?",
        "UTC",
        "2026-01-01T00:00:41Z",
        Some("2026-01-01T00:01:00Z"),
    ),
    (
        "0 0 6 1/10 * ?",
        "UTC",
        "2026-01-21T07:00:00Z",
        Some("2026-01-31T06:00:00Z"),
    ),
    (
        "59 59 23 31 12 ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-12-31T23:59:59Z"),
    ),
    (
        "0 0 0 1 JAN,JUL ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-07-01T00:00:00Z"),
    ),
    (
        "0 0 0 29 2 ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2028-02-29T00:00:00Z"),
    ),
    // weekdays, Quartz numbering 1 = SUN .. 7 = SAT
    (
        "0 0 2 ? * MON-FRI",
        "UTC",
        "2026-01-02T03:00:00Z",
        Some("2026-01-05T02:00:00Z"),
    ),
    (
        "0 15 10 ? * 2-6",
        "UTC",
        "2026-01-03T00:00:00Z",
        Some("2026-01-05T10:15:00Z"),
    ),
    (
        "0 0 10 ? * 1",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-04T10:00:00Z"),
    ),
    (
        "0 0 10 ? * 7",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-03T10:00:00Z"),
    ),
    (
        "0 0 10 ? * L",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-03T10:00:00Z"),
    ),
    (
        "0 0 10 ? * SUN,SAT",
        "UTC",
        "2026-01-03T10:00:00Z",
        Some("2026-01-04T10:00:00Z"),
    ),
    (
        "0 0 10 ? * mon",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-05T10:00:00Z"),
    ),
    // `#` and `nL`: 6 = FRI in Quartz
    (
        "0 0 10 ? * 6#3",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-16T10:00:00Z"),
    ),
    (
        "0 0 10 ? * 6#3",
        "UTC",
        "2026-01-16T10:00:00Z",
        Some("2026-02-20T10:00:00Z"),
    ),
    (
        "0 0 10 ? * FRI#3",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-16T10:00:00Z"),
    ),
    (
        "0 0 0 ? * 5#5",
        "UTC",
        "2026-01-29T00:00:00Z",
        Some("2026-04-30T00:00:00Z"),
    ),
    (
        "0 0 10 ? * 6L",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-30T10:00:00Z"),
    ),
    (
        "0 0 10 ? * 2L",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-26T10:00:00Z"),
    ),
    // `L`, `LW`, `nW`
    (
        "0 0 0 L * ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-31T00:00:00Z"),
    ),
    (
        "0 0 0 L * ?",
        "UTC",
        "2026-02-01T00:00:00Z",
        Some("2026-02-28T00:00:00Z"),
    ),
    (
        "0 0 0 L 2 ? 2028",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2028-02-29T00:00:00Z"),
    ),
    (
        "0 0 12 LW * ?",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-30T12:00:00Z"),
    ),
    (
        "0 0 12 LW * ?",
        "UTC",
        "2026-05-01T00:00:00Z",
        Some("2026-05-29T12:00:00Z"),
    ),
    (
        "0 0 12 15W * ?",
        "UTC",
        "2026-02-01T00:00:00Z",
        Some("2026-02-16T12:00:00Z"),
    ),
    (
        "0 0 12 15W * ?",
        "UTC",
        "2026-08-01T00:00:00Z",
        Some("2026-08-14T12:00:00Z"),
    ),
    (
        "0 0 12 1W * ?",
        "UTC",
        "2026-07-31T00:00:00Z",
        Some("2026-08-03T12:00:00Z"),
    ),
    // 7 fields, with a year
    (
        "0 0 12 1 1 ? 2030",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2030-01-01T12:00:00Z"),
    ),
    (
        "0 0 12 ? * 2#1 2027",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2027-01-04T12:00:00Z"),
    ),
    ("0 0 12 1 1 ? 2020", "UTC", "2026-01-01T00:00:00Z", None),
    (
        "0 0 12 1 1 ? 2026-2028/2",
        "UTC",
        "2026-01-01T12:00:00Z",
        Some("2028-01-01T12:00:00Z"),
    ),
    // Unix, 5 fields, minute first; 0 and 7 are Sunday
    (
        "0 2 * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-01T02:00:00Z"),
    ),
    (
        "*/5 * * * *",
        "UTC",
        "2026-01-01T00:07:30Z",
        Some("2026-01-01T00:10:00Z"),
    ),
    (
        "0 9 * * 0",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-04T09:00:00Z"),
    ),
    (
        "0 9 * * 7",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-04T09:00:00Z"),
    ),
    (
        "0 9 * * 6",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-03T09:00:00Z"),
    ),
    (
        "0 9 * * 1-5",
        "UTC",
        "2026-01-02T10:00:00Z",
        Some("2026-01-05T09:00:00Z"),
    ),
    (
        "0 9 * * MON-FRI",
        "UTC",
        "2026-01-02T10:00:00Z",
        Some("2026-01-05T09:00:00Z"),
    ),
    (
        "0 0 1,15 * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-15T00:00:00Z"),
    ),
    (
        "30 4 1 * *",
        "UTC",
        "2026-01-01T05:00:00Z",
        Some("2026-02-01T04:30:00Z"),
    ),
    (
        "0 0 13 * 5",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-02T00:00:00Z"),
    ),
    (
        "0 10 * * 5#3",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-16T10:00:00Z"),
    ),
    (
        "0 10 * * 5L",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-30T10:00:00Z"),
    ),
    (
        "0 0 L * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        Some("2026-01-31T00:00:00Z"),
    ),
    // zones
    (
        "0 0 2 * * ?",
        "Europe/Berlin",
        "2026-01-01T00:00:00Z",
        Some("2026-01-01T01:00:00Z"),
    ),
    (
        "0 0 2 * * ?",
        "Europe/Berlin",
        "2026-06-30T23:00:00Z",
        Some("2026-07-01T00:00:00Z"),
    ),
    (
        "0 0 9 ? * MON-FRI",
        "America/New_York",
        "2026-01-02T15:00:00Z",
        Some("2026-01-05T14:00:00Z"),
    ),
    (
        "0 9 * * 1-5",
        "America/New_York",
        "2026-07-03T14:00:00Z",
        Some("2026-07-06T13:00:00Z"),
    ),
    (
        "0 0 0 * * ?",
        "Asia/Kolkata",
        "2026-01-01T00:00:00Z",
        Some("2026-01-01T18:30:00Z"),
    ),
];

#[test]
fn expression_vectors() {
    assert!(VECTORS.len() >= 30);
    let mut failures = Vec::new();
    for &(expr, tz, after, want) in VECTORS {
        let got = sched(expr, tz).next_after(t(after));
        let want = want.map(t);
        if got != want {
            failures.push(format!(
                "{expr:?} in {tz} after {after}: got {got:?}, want {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_and_display() {
    let q: CronExpr = " 0 0 2 ? * MON-FRI ".parse().unwrap();
    assert_eq!(q.syntax(), Syntax::Quartz);
    assert_eq!(q.to_string(), "0 0 2 ? * MON-FRI");
    assert_eq!(q.as_str(), "0 0 2 ? * MON-FRI");
    let u: CronExpr = "0 2 * * 1-5".parse().unwrap();
    assert_eq!(u.syntax(), Syntax::Unix);
    assert_eq!(u.to_string(), "0 2 * * 1-5");
    let y: CronExpr = "0 0 2 ? * 2-6 2027".parse().unwrap();
    assert_eq!(y.syntax(), Syntax::Quartz);
    assert_eq!(format!("{y}"), "0 0 2 ? * 2-6 2027");
}

#[test]
fn quartz_and_unix_weekday_numbers_differ() {
    // 6 is FRI in Quartz and SAT in Unix; names mean the same in both.
    let quartz = sched("0 0 10 ? * 6", "UTC");
    let unix = sched("0 10 * * 6", "UTC");
    let after = t("2026-01-01T00:00:00Z");
    assert_eq!(quartz.next_after(after), Some(t("2026-01-02T10:00:00Z")));
    assert_eq!(unix.next_after(after), Some(t("2026-01-03T10:00:00Z")));
    let quartz_names = sched("0 0 10 ? * MON-FRI", "UTC");
    let unix_names = sched("0 10 * * MON-FRI", "UTC");
    assert_eq!(
        quartz_names.upcoming(after, 10),
        unix_names.upcoming(after, 10)
    );
}

#[test]
fn matches_reads_wall_clock() {
    let e: CronExpr = "0 30 2 ? * 1".parse().unwrap();
    let sunday = NaiveDateTime::parse_from_str("2026-03-29 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
    assert!(e.matches(sunday));
    assert!(!e.matches(sunday + TimeDelta::days(1)));
}

// ---------------------------------------------------------------------------------------
// DST rule.

#[test]
fn berlin_spring_forward_daily_shifts_by_the_gap() {
    // 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist, runs at 03:30 CEST.
    for expr in ["0 30 2 * * ?", "30 2 * * *"] {
        let s = sched(expr, "Europe/Berlin");
        let times = s.upcoming(t("2026-03-28T00:00:00Z"), 3);
        let shown: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            shown,
            [
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:30:00+02:00",
                "2026-03-30T02:30:00+02:00"
            ],
            "{expr}"
        );
        assert_eq!(
            s.next_after(t("2026-03-29T00:00:00Z")),
            Some(t("2026-03-29T01:30:00Z"))
        );
    }
}

#[test]
fn berlin_fall_back_daily_runs_at_first_occurrence() {
    // 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 exists twice, runs once at 02:30 CEST.
    for expr in ["0 30 2 * * ?", "30 2 * * *"] {
        let s = sched(expr, "Europe/Berlin");
        let times = s.upcoming(t("2026-10-24T00:00:00Z"), 3);
        let shown: Vec<String> = times.iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            shown,
            [
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00"
            ],
            "{expr}"
        );
        // Asked during the second pass of the repeated hour, nothing more fires that day.
        assert_eq!(
            s.next_after(t("2026-10-25T01:15:00Z")),
            Some(t("2026-10-26T01:30:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(t("2026-10-25T01:45:00Z")),
            Some(t("2026-10-25T00:30:00Z"))
        );
    }
}

#[test]
fn berlin_spring_forward_half_hourly_has_no_duplicates_and_no_holes() {
    let s = sched("0 */30 * * * ?", "Europe/Berlin");
    let got = s.between(t("2026-03-28T23:00:00Z"), t("2026-03-29T03:00:00Z"), 100);
    // Wall 02:00 and 02:30 (missing) shift to 03:00 and 03:30, which fire anyway: every
    // half hour of real time fires exactly once.
    assert_eq!(
        rfc(&got),
        [
            "2026-03-28T23:30:00Z",
            "2026-03-29T00:00:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-29T02:00:00Z",
            "2026-03-29T02:30:00Z",
            "2026-03-29T03:00:00Z",
        ]
    );
    let shown: Vec<String> = s
        .upcoming(t("2026-03-29T00:15:00Z"), 4)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        shown,
        [
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:30:00+02:00",
            "2026-03-29T04:00:00+02:00"
        ]
    );
}

#[test]
fn berlin_fall_back_half_hourly_fires_each_wall_time_once() {
    let s = sched("0 */30 * * * ?", "Europe/Berlin");
    let got = s.between(t("2026-10-24T22:00:00Z"), t("2026-10-25T03:00:00Z"), 100);
    // 02:00 and 02:30 fire in the first pass (CEST); the second pass (01:00-01:59 UTC) is
    // silent; 03:00 CET follows.
    assert_eq!(
        rfc(&got),
        [
            "2026-10-24T22:30:00Z",
            "2026-10-24T23:00:00Z",
            "2026-10-24T23:30:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T02:30:00Z",
            "2026-10-25T03:00:00Z",
        ]
    );
    assert_eq!(
        s.next_after(t("2026-10-25T01:10:00Z")),
        Some(t("2026-10-25T02:00:00Z"))
    );
    assert_eq!(
        s.last_at_or_before(t("2026-10-25T01:59:59Z")),
        Some(t("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn berlin_fall_back_quarter_hourly_documented_behaviour() {
    let s = sched("0 */15 * * * ?", "Europe/Berlin");
    let shown: Vec<String> = s
        .upcoming(t("2026-10-24T23:50:00Z"), 6)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        shown,
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:15:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:45:00+02:00",
            "2026-10-25T03:00:00+01:00",
            "2026-10-25T03:15:00+01:00"
        ]
    );
}

#[test]
fn berlin_hourly_across_both_transitions() {
    let s = sched("0 0 * * * ?", "Europe/Berlin");
    let spring = s.between(t("2026-03-28T23:30:00Z"), t("2026-03-29T03:30:00Z"), 100);
    assert_eq!(
        rfc(&spring),
        [
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z",
            "2026-03-29T03:00:00Z"
        ]
    );
    let fall = s.between(t("2026-10-24T22:30:00Z"), t("2026-10-25T03:30:00Z"), 100);
    assert_eq!(
        rfc(&fall),
        [
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T03:00:00Z"
        ]
    );
}

#[test]
fn new_york_transitions() {
    // 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
    let spring = sched("0 30 2 * * ?", "America/New_York");
    let shown: Vec<String> = spring
        .upcoming(t("2026-03-07T12:00:00Z"), 3)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        shown,
        [
            "2026-03-08T03:30:00-04:00",
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00"
        ]
    );
    let fall = sched("0 30 1 * * ?", "America/New_York");
    let got = fall.between(t("2026-10-31T12:00:00Z"), t("2026-11-02T12:00:00Z"), 10);
    assert_eq!(
        rfc(&got),
        [
            "2026-11-01T05:30:00Z", // 01:30 EDT, the first of the two
            "2026-11-02T06:30:00Z",
        ]
    );
}

#[test]
fn half_hour_gap_in_lord_howe() {
    // Australia/Lord_Howe: 2026-10-04 02:00 (+10:30) -> 02:30 (+11): a 30-minute gap.
    let s = sched("0 15 2 * * ?", "Australia/Lord_Howe");
    let shown: Vec<String> = s
        .upcoming(t("2026-10-03T12:00:00Z"), 2)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        shown,
        ["2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"]
    );
    // A gap time shifted past a later real wall time still fires in instant order.
    let s = sched("0 20,40 2 * * ?", "Australia/Lord_Howe");
    let got = s.between(t("2026-10-03T15:00:00Z"), t("2026-10-03T16:00:00Z"), 10);
    // 02:20 (gap) -> 02:50 = 15:50Z; 02:40 (real) = 15:40Z.
    assert_eq!(rfc(&got), ["2026-10-03T15:40:00Z", "2026-10-03T15:50:00Z"]);
    assert_eq!(
        s.last_at_or_before(t("2026-10-04T00:00:00Z")),
        Some(t("2026-10-03T15:50:00Z"))
    );
    assert_eq!(
        s.last_at_or_before(t("2026-10-03T15:45:00Z")),
        Some(t("2026-10-03T15:40:00Z"))
    );
}

#[test]
fn resolve_local_rule() {
    let berlin = parse_zone("Europe/Berlin").unwrap();
    let wall = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    assert_eq!(
        resolve_local(&berlin, wall("2026-03-29 02:30")),
        Some(t("2026-03-29T01:30:00Z"))
    );
    assert_eq!(
        resolve_local(&berlin, wall("2026-10-25 02:30")),
        Some(t("2026-10-25T00:30:00Z"))
    );
    assert_eq!(
        resolve_local(&berlin, wall("2026-01-01 00:00")),
        Some(t("2025-12-31T23:00:00Z"))
    );
    // Pacific/Apia skipped 2011-12-30 entirely (-10 -> +14): a whole-day gap.
    let apia = parse_zone("Pacific/Apia").unwrap();
    let shifted = resolve_local(&apia, wall("2011-12-30 09:00")).unwrap();
    assert_eq!(
        shifted.with_timezone(&apia).to_rfc3339(),
        "2011-12-31T09:00:00+14:00"
    );
}

// ---------------------------------------------------------------------------------------
// upcoming / between

#[test]
fn upcoming_renders_rfc3339_with_offset() {
    let s = sched("0 0 2 * * ?", "Europe/Berlin");
    let shown: Vec<String> = s
        .upcoming(t("2026-03-27T12:00:00Z"), 3)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        shown,
        [
            "2026-03-28T02:00:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:00:00+02:00"
        ]
    );
    let utc = sched("0 0 2 * * ?", "UTC");
    assert_eq!(
        utc.upcoming(t("2026-01-01T00:00:00Z"), 1)[0].to_rfc3339(),
        "2026-01-01T02:00:00+00:00"
    );
    assert!(s.upcoming(t("2026-01-01T00:00:00Z"), 0).is_empty());
    let past = sched("0 0 12 1 1 ? 2020", "UTC");
    assert!(past.upcoming(t("2026-01-01T00:00:00Z"), 5).is_empty());
    // Strictly after: a fire time equal to `after` is not repeated.
    assert_eq!(
        utc.upcoming(t("2026-01-01T02:00:00Z"), 1)[0].to_rfc3339(),
        "2026-01-02T02:00:00+00:00"
    );
}

#[test]
fn between_across_a_month() {
    let daily = sched("0 0 0 * * ?", "UTC");
    let got = daily.between(t("2026-01-30T00:00:00Z"), t("2026-02-02T00:00:00Z"), 100);
    assert_eq!(
        rfc(&got),
        [
            "2026-01-31T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-02-02T00:00:00Z"
        ]
    );
    let whole = daily.between(t("2026-01-31T00:00:00Z"), t("2026-02-28T00:00:00Z"), 100);
    assert_eq!(whole.len(), 28);
    assert_eq!(whole[0], t("2026-02-01T00:00:00Z"));
    assert_eq!(whole[27], t("2026-02-28T00:00:00Z"));
    // limit
    let limited = daily.between(t("2026-01-31T00:00:00Z"), t("2026-02-28T00:00:00Z"), 5);
    assert_eq!(limited.len(), 5);
    assert_eq!(limited[4], t("2026-02-05T00:00:00Z"));
    // month ends
    let last = sched("0 0 0 L * ?", "UTC");
    assert_eq!(
        rfc(&last.between(t("2026-01-01T00:00:00Z"), t("2026-04-30T00:00:00Z"), 10)),
        [
            "2026-01-31T00:00:00Z",
            "2026-02-28T00:00:00Z",
            "2026-03-31T00:00:00Z",
            "2026-04-30T00:00:00Z"
        ]
    );
    // weekdays of March 2026 in Berlin, across the spring-forward night
    let weekdays = sched("0 30 2 ? * MON-FRI", "Europe/Berlin");
    let march = weekdays.between(t("2026-02-28T23:00:00Z"), t("2026-03-31T22:00:00Z"), 100);
    assert_eq!(march.len(), 22);
    assert_eq!(march[0], t("2026-03-02T01:30:00Z"));
    assert_eq!(march[21], t("2026-03-31T00:30:00Z"));
    // empty and reversed ranges
    assert!(
        daily
            .between(t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z"), 10)
            .is_empty()
    );
    assert!(
        daily
            .between(t("2026-02-01T00:00:00Z"), t("2026-01-01T00:00:00Z"), 10)
            .is_empty()
    );
    assert!(
        daily
            .between(t("2026-01-01T00:00:00Z"), t("2026-02-01T00:00:00Z"), 0)
            .is_empty()
    );
    // a daily 02:30 in Berlin, through the gap
    let s = sched("0 30 2 * * ?", "Europe/Berlin");
    assert_eq!(
        rfc(&s.between(t("2026-03-27T00:00:00Z"), t("2026-04-01T00:00:00Z"), 10)),
        [
            "2026-03-27T01:30:00Z",
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:30:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// due

const MINUTE: TimeDelta = TimeDelta::minutes(1);

fn hourly() -> Schedule {
    sched("0 0 * * * ?", "UTC")
}

#[test]
fn due_first_fire_at_the_lower_bound() {
    let d = due(
        &hourly(),
        None,
        t("2026-01-01T00:00:00Z"),
        t("2026-01-01T00:00:05Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert_eq!(d.fire, [t("2026-01-01T00:00:00Z")]);
    assert_eq!(d.next, Some(t("2026-01-01T01:00:00Z")));
}

#[test]
fn due_first_fire_not_before_the_lower_bound() {
    // Created at 00:30: the 00:00 fire time is before it.
    let d = due(
        &hourly(),
        None,
        t("2026-01-01T00:30:00Z"),
        t("2026-01-01T00:45:00Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert!(d.fire.is_empty());
    assert_eq!(d.next, Some(t("2026-01-01T01:00:00Z")));
    // ...and 01:00 fires when it comes.
    let d = due(
        &hourly(),
        None,
        t("2026-01-01T00:30:00Z"),
        t("2026-01-01T01:00:01Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert_eq!(d.fire, [t("2026-01-01T01:00:00Z")]);
}

#[test]
fn due_first_fire_never_replays_back_to_start() {
    let start = t("2026-01-01T00:00:00Z");
    let late = t("2026-01-03T05:30:00Z");
    let once = due(&hourly(), None, start, late, Misfire::FireOnce, MINUTE);
    assert_eq!(once.fire, [t("2026-01-03T05:00:00Z")]);
    assert_eq!(once.next, Some(t("2026-01-03T06:00:00Z")));
    let skip = due(&hourly(), None, start, late, Misfire::Skip, MINUTE);
    assert!(skip.fire.is_empty());
    assert_eq!(skip.next, Some(t("2026-01-03T06:00:00Z")));
    // on time: both fire
    let on_time = t("2026-01-03T05:00:10Z");
    for policy in [Misfire::FireOnce, Misfire::Skip] {
        let d = due(&hourly(), None, start, on_time, policy, MINUTE);
        assert_eq!(d.fire, [t("2026-01-03T05:00:00Z")], "{policy:?}");
    }
}

#[test]
fn due_normal() {
    let d = due(
        &hourly(),
        Some(t("2026-01-01T01:00:00Z")),
        t("2026-01-01T00:00:00Z"),
        t("2026-01-01T02:00:03Z"),
        Misfire::Skip,
        MINUTE,
    );
    assert_eq!(d.fire, [t("2026-01-01T02:00:00Z")]);
    assert_eq!(d.next, Some(t("2026-01-01T03:00:00Z")));
    // exactly at the fire time
    let d = due(
        &hourly(),
        Some(t("2026-01-01T01:00:00Z")),
        t("2026-01-01T00:00:00Z"),
        t("2026-01-01T02:00:00Z"),
        Misfire::Skip,
        MINUTE,
    );
    assert_eq!(d.fire, [t("2026-01-01T02:00:00Z")]);
    assert_eq!(d.next, Some(t("2026-01-01T03:00:00Z")));
}

#[test]
fn due_not_yet_due() {
    for now in [
        "2026-01-01T02:00:00Z",
        "2026-01-01T02:30:00Z",
        "2026-01-01T02:59:59.999Z",
    ] {
        let d = due(
            &hourly(),
            Some(t("2026-01-01T02:00:00Z")),
            t("2026-01-01T00:00:00Z"),
            t(now),
            Misfire::FireOnce,
            MINUTE,
        );
        assert!(d.fire.is_empty(), "{now}");
        assert_eq!(d.next, Some(t("2026-01-01T03:00:00Z")), "{now}");
    }
}

#[test]
fn due_missed_several_fire_once_fires_the_latest() {
    let d = due(
        &hourly(),
        Some(t("2026-01-01T02:00:00Z")),
        t("2026-01-01T00:00:00Z"),
        t("2026-01-01T06:20:00Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert_eq!(d.fire, [t("2026-01-01T06:00:00Z")]);
    assert_eq!(d.next, Some(t("2026-01-01T07:00:00Z")));
}

#[test]
fn due_missed_several_skip_fires_none() {
    let d = due(
        &hourly(),
        Some(t("2026-01-01T02:00:00Z")),
        t("2026-01-01T00:00:00Z"),
        t("2026-01-01T06:20:00Z"),
        Misfire::Skip,
        MINUTE,
    );
    assert!(d.fire.is_empty());
    assert_eq!(d.next, Some(t("2026-01-01T07:00:00Z")));
}

#[test]
fn due_missed_several_but_latest_within_tolerance_fires() {
    for policy in [Misfire::FireOnce, Misfire::Skip] {
        let d = due(
            &hourly(),
            Some(t("2026-01-01T02:00:00Z")),
            t("2026-01-01T00:00:00Z"),
            t("2026-01-01T06:00:30Z"),
            policy,
            MINUTE,
        );
        assert_eq!(d.fire, [t("2026-01-01T06:00:00Z")], "{policy:?}");
    }
}

#[test]
fn due_tolerance_boundary() {
    let last = Some(t("2026-01-01T05:00:00Z"));
    let lower = t("2026-01-01T00:00:00Z");
    let at_edge = due(
        &hourly(),
        last,
        lower,
        t("2026-01-01T06:01:00Z"),
        Misfire::Skip,
        MINUTE,
    );
    assert_eq!(at_edge.fire, [t("2026-01-01T06:00:00Z")]);
    // One missed fire time, later than the tolerance: Skip drops it, FireOnce fires it.
    let past_edge = t("2026-01-01T06:01:01Z");
    assert!(
        due(&hourly(), last, lower, past_edge, Misfire::Skip, MINUTE)
            .fire
            .is_empty()
    );
    assert_eq!(
        due(&hourly(), last, lower, past_edge, Misfire::FireOnce, MINUTE).fire,
        [t("2026-01-01T06:00:00Z")]
    );
    // zero tolerance: only exactly on time
    assert_eq!(
        due(
            &hourly(),
            last,
            lower,
            t("2026-01-01T06:00:00Z"),
            Misfire::Skip,
            TimeDelta::zero()
        )
        .fire,
        [t("2026-01-01T06:00:00Z")]
    );
}

#[test]
fn due_start_in_the_future_sleeps_until_start() {
    let d = due(
        &hourly(),
        None,
        t("2026-02-01T00:00:00Z"),
        t("2026-01-15T10:30:00Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert!(d.fire.is_empty());
    assert_eq!(d.next, Some(t("2026-02-01T00:00:00Z")));
}

#[test]
fn due_schedule_that_never_fires_again() {
    let s = sched("0 0 12 1 1 ? 2026", "UTC");
    let d = due(
        &s,
        Some(t("2026-01-01T12:00:00Z")),
        t("2025-06-01T00:00:00Z"),
        t("2026-03-01T00:00:00Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert!(d.fire.is_empty());
    assert_eq!(d.next, None);
}

#[test]
fn due_across_dst_never_fires_an_instant_twice() {
    let s = sched("0 */30 * * * ?", "Europe/Berlin");
    let lower = t("2026-01-01T00:00:00Z");
    // 03:30 CEST is also where the missing 02:30 lands: already fired.
    let d = due(
        &s,
        Some(t("2026-03-29T01:30:00Z")),
        lower,
        t("2026-03-29T01:30:05Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert!(d.fire.is_empty());
    assert_eq!(d.next, Some(t("2026-03-29T02:00:00Z")));
    // Second pass of the repeated hour: 02:30 CET already fired as 02:30 CEST.
    let d = due(
        &s,
        Some(t("2026-10-25T00:30:00Z")),
        lower,
        t("2026-10-25T01:30:10Z"),
        Misfire::FireOnce,
        MINUTE,
    );
    assert!(d.fire.is_empty());
    assert_eq!(d.next, Some(t("2026-10-25T02:00:00Z")));
    // Leader down across the spring-forward night: daily 02:30 fires the shifted time.
    let daily = sched("0 30 2 * * ?", "Europe/Berlin");
    let d = due(
        &daily,
        Some(t("2026-03-28T01:30:00Z")),
        lower,
        t("2026-03-29T01:30:20Z"),
        Misfire::Skip,
        MINUTE,
    );
    assert_eq!(d.fire, [t("2026-03-29T01:30:00Z")]);
    assert_eq!(d.next, Some(t("2026-03-30T00:30:00Z")));
}

#[test]
fn misfire_defaults_to_fire_once() {
    assert_eq!(Misfire::default(), Misfire::FireOnce);
}

// ---------------------------------------------------------------------------------------
// errors

#[test]
fn wrong_field_count_is_named() {
    assert_eq!(
        err("0 2 * *"),
        "cron expression \"0 2 * *\" has 4 fields (expected 5, 6 or 7)"
    );
    assert_eq!(
        err(""),
        "cron expression \"\" has 0 fields (expected 5, 6 or 7)"
    );
    assert_eq!(
        err("@daily"),
        "cron expression \"@daily\" has 1 fields (expected 5, 6 or 7)"
    );
    assert!(err("0 0 0 1 1 ? 2026 1").contains("has 8 fields"));
}

#[test]
fn invalid_fields_are_named() {
    let cases = [
        ("0 0 25 * * ?", "hours field \"25\""),
        ("0 61 * * * ?", "minutes field \"61\""),
        ("60 * * * * ?", "seconds field \"60\""),
        ("0 0 0 32 * ?", "day-of-month field \"32\""),
        ("0 0 0 ? 13 *", "month field \"13\""),
        ("0 0 0 ? * 0", "day-of-week field \"0\""),
        ("0 0 0 ? * 8", "day-of-week field \"8\""),
        ("0 0 0 ? * 6#6", "day-of-week field \"6#6\""),
        ("0 0 0 ? * FOO", "day-of-week field \"FOO\""),
        ("0 ? 0 * * *", "minutes field \"?\""),
        ("0 */0 * * * ?", "minutes field \"*/0\""),
        ("0 0 0 L-3 * ?", "day-of-month field \"L-3\""),
        ("0 0 0 ? * +MON", "day-of-week field \"+MON\""),
        ("0 0 0 1 1 ? 1999x", "year field \"1999x\""),
        ("0 0 * * 8", "day-of-week field \"8\""),
        ("0 0 * * L", "day-of-week field \"L\""),
        ("0 24 * * *", "hours field \"24\""),
        ("x 0 * * *", "minutes field \"x\""),
        ("0 0 0 1 MON ?", "month field \"MON\""),
        ("0 0 0 ? * JAN", "day-of-week field \"JAN\""),
        ("0 0 0 ? * MONDAY", "day-of-week field \"MONDAY\""),
        ("0 0 W * * ?", "hours field \"W\""),
        ("0 0 0 ? * 6W", "day-of-week field \"6W\""),
    ];
    for (expr, needle) in cases {
        let message = err(expr);
        assert!(
            message.contains(&format!("invalid cron expression {expr:?}")),
            "{expr}: {message}"
        );
        assert!(message.contains(needle), "{expr}: {message}");
        assert!(message.contains("allowed:"), "{expr}: {message}");
    }
}

#[test]
fn expressions_that_never_fire_are_rejected() {
    for expr in [
        "0 0 0 31 2 ?",
        "0 0 0 30,31 2 ?",
        "0 0 31 4,6 *",
        "0 0 0 31W 2 ?",
        "0 0 0 30-31 2 *",
    ] {
        let message = err(expr);
        assert!(message.contains("never fires"), "{expr}: {message}");
        assert!(
            message.starts_with(&format!("invalid cron expression {expr:?}")),
            "{message}"
        );
    }
    // possible somewhere: Feb 29, any L, a weekday alternative (Unix ORs the day fields)
    for expr in [
        "0 0 0 29 2 ?",
        "0 0 0 L 2 ?",
        "0 0 0 LW 2 ?",
        "0 0 30 2 1",
        "0 0 0 31 1-2 ?",
        "0 0 0 ? 2 6#5",
    ] {
        assert!(expr.parse::<CronExpr>().is_ok(), "{expr}");
    }
}

#[test]
fn quartz_weekday_zero_and_reversed_ranges_explained() {
    let message = err("0 0 0 ? * 0");
    assert!(
        message.contains("0 is not a day of the week in Quartz syntax"),
        "{message}"
    );
    let message = err("0 0 0 ? * SAT-SUN");
    assert!(message.contains("reversed"), "{message}");
    assert!(message.contains("\"SAT-SUN\""), "{message}");
}

#[test]
fn quartz_needs_question_mark_when_both_days_are_set() {
    let message = err("0 0 0 15 * MON");
    assert!(
        message.starts_with("invalid cron expression \"0 0 0 15 * MON\""),
        "{message}"
    );
    assert!(message.contains('?'), "{message}");
    assert!(err("0 0 0 15 * mon").contains("\"mon\""));
    // Unix syntax ORs them instead.
    assert!("0 0 15 * MON".parse::<CronExpr>().is_ok());
}

#[test]
fn unknown_zone_is_named() {
    let e = Schedule::new("0 0 2 * * ?", "Europe/Berln").unwrap_err();
    assert_eq!(e, CronError::UnknownZone("Europe/Berln".into()));
    assert!(e.to_string().contains("\"Europe/Berln\""), "{e}");
    assert!(Schedule::new("0 0 2 * * ?", "").is_err());
    // the expression is checked first
    let e = Schedule::new("0 0 2 *", "Nowhere/City").unwrap_err();
    assert!(matches!(e, CronError::FieldCount { .. }), "{e}");
    assert_eq!(parse_zone("UTC").unwrap(), chrono_tz::UTC);
}

// ---------------------------------------------------------------------------------------
// properties

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Apia",
];

fn quartz_expr() -> impl Strategy<Value = String> {
    let sec = prop::sample::select(vec!["0", "30", "*/20", "0,15", "10-50/20"]);
    let min = prop::sample::select(vec!["*", "0", "*/7", "5-10", "0/15", "30", "10,40"]);
    let hour = prop::sample::select(vec!["*", "2", "0-3", "*/2", "9-17/4", "23", "1,2,3"]);
    let days = prop::sample::select(vec![
        ("*", "?"),
        ("?", "*"),
        ("*", "*"),
        ("1", "?"),
        ("15", "?"),
        ("L", "?"),
        ("LW", "?"),
        ("10W", "?"),
        ("1-7", "?"),
        ("*/3", "?"),
        ("31", "?"),
        ("?", "MON-FRI"),
        ("?", "2"),
        ("?", "6#3"),
        ("?", "6L"),
        ("?", "1,7"),
        ("?", "L"),
    ]);
    let month = prop::sample::select(vec!["*", "1", "2-4", "JAN,JUL", "*/5", "3,10"]);
    let year = prop::sample::select(vec!["", " *", " 2020-2040"]);
    (sec, min, hour, days, month, year)
        .prop_map(|(s, m, h, (dom, dow), mon, y)| format!("{s} {m} {h} {dom} {mon} {dow}{y}"))
}

fn unix_expr() -> impl Strategy<Value = String> {
    let min = prop::sample::select(vec!["*", "0", "*/7", "5-10", "30", "10,40"]);
    let hour = prop::sample::select(vec!["*", "2", "0-3", "*/2", "23", "1,2,3"]);
    let dom = prop::sample::select(vec!["*", "1", "15", "L", "1-7", "31"]);
    let month = prop::sample::select(vec!["*", "1", "2-4", "MAR,OCT", "*/5"]);
    let dow = prop::sample::select(vec!["*", "0", "7", "1-5", "5#2", "5L", "MON", "SAT,SUN"]);
    (min, hour, dom, month, dow).prop_map(|(m, h, d, mon, w)| format!("{m} {h} {d} {mon} {w}"))
}

fn any_expr() -> impl Strategy<Value = String> {
    prop_oneof![quartz_expr(), unix_expr()]
}

/// Whether `fire` is a fire time of `s` by the DST rule: its own wall time matches and this
/// is that wall time's instant, or it is a missing wall time shifted forward by the gap.
fn is_fire_time(s: &Schedule, fire: DateTime<Utc>) -> bool {
    let wall = fire.with_timezone(&s.tz).naive_local();
    if s.expr.matches(wall) && resolve_local(&s.tz, wall) == Some(fire) {
        return true;
    }
    // A shifted gap time: some missing wall time up to 26 h earlier resolves to `fire`.
    let mut w = wall - TimeDelta::hours(26);
    while let Some(m) = s.expr.next_wall(w, false) {
        if m >= wall {
            return false;
        }
        if matches!(s.tz.from_local_datetime(&m), LocalResult::None)
            && resolve_local(&s.tz, m) == Some(fire)
        {
            return true;
        }
        w = m;
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `next_after` never panics, is strictly increasing, and yields only fire times.
    #[test]
    fn next_after_is_strictly_increasing(
        expr in any_expr(),
        zone in prop::sample::select(ZONES.to_vec()),
        start in 946_684_800i64..2_208_988_800i64, // 2000 .. 2040
    ) {
        let s = Schedule::new(&expr, zone).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut after = DateTime::from_timestamp(start, 0).unwrap();
        for _ in 0..20 {
            let Some(next) = s.next_after(after) else { break };
            prop_assert!(next > after, "{expr} in {zone}: {next} after {after}");
            prop_assert!(is_fire_time(&s, next), "{expr} in {zone}: {next} is not a fire time");
            prop_assert_eq!(s.last_at_or_before(next), Some(next), "{} in {}", expr, zone);
            after = next;
        }
    }
}

/// Known transitions, as (zone, a UTC instant next to one).
const TRANSITIONS: &[(&str, &str)] = &[
    ("Europe/Berlin", "2026-03-29T01:00:00Z"),
    ("Europe/Berlin", "2026-10-25T01:00:00Z"),
    ("America/New_York", "2026-03-08T07:00:00Z"),
    ("America/New_York", "2026-11-01T06:00:00Z"),
    ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"),
    ("Australia/Lord_Howe", "2026-10-03T15:30:00Z"),
    ("Pacific/Apia", "2011-12-30T10:00:00Z"),
];

fn minute_expr() -> impl Strategy<Value = String> {
    let min = prop::sample::select(vec!["0", "*/7", "*/15", "20,40", "5-10", "45", "0/30"]);
    let hour = prop::sample::select(vec!["*", "0", "1", "2", "1-3", "*/2", "23", "0,12"]);
    (min, hour).prop_map(|(m, h)| format!("0 {m} {h} * * ?"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Around DST transitions, `next_after` and `last_at_or_before` agree with a brute
    /// force over every matching wall time: map each by the DST rule, sort, deduplicate.
    #[test]
    fn search_agrees_with_brute_force_near_transitions(
        expr in minute_expr(),
        which in 0..TRANSITIONS.len(),
        probes in prop::collection::vec(-20 * 3600i64..20 * 3600, 12),
    ) {
        let (zone, near) = TRANSITIONS[which];
        let s = Schedule::new(&expr, zone).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let center = t(near);
        let wall = center.with_timezone(&s.tz).naive_local();
        let (lo, hi) = (wall - TimeDelta::hours(50), wall + TimeDelta::hours(50));
        let mut fires = Vec::new();
        let mut w = lo;
        while let Some(m) = s.expr.next_wall(w, false) {
            if m > hi { break; }
            fires.extend(resolve_local(&s.tz, m));
            w = m;
        }
        fires.sort();
        fires.dedup();
        for p in probes {
            let at = center + TimeDelta::seconds(p);
            let want_next = fires.iter().copied().find(|f| *f > at);
            let want_prev = fires.iter().copied().rev().find(|f| *f <= at);
            prop_assert_eq!(s.next_after(at), want_next, "next {} in {} after {}", expr, zone, at);
            prop_assert_eq!(s.last_at_or_before(at), want_prev, "prev {} in {} at {}", expr, zone, at);
        }
    }
}
