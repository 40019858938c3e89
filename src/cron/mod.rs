//! Cron expressions, time zones and fire times, as pure functions (no I/O).
//!
//! The leader's cron firer, `pgdag cron next`, `GET /api/v1/cron/preview` and backfill date
//! generation all use this one engine, so a preview shows exactly what will fire.
//!
//! # Syntax
//! [`CronExpr`] takes two syntaxes, told apart by the number of fields:
//! - **Quartz**, 6 or 7 fields: `sec min hour day-of-month month day-of-week [year]`.
//!   Day-of-week numbers are Quartz's, `1 = SUN .. 7 = SAT` (so `6#3` is the third
//!   *Friday*); names `SUN`-`SAT`, ranges such as `MON-FRI`, `?`, `L` (last day of the
//!   month), `LW`, `15W`, `nL` (last weekday `n` of the month), `n#k`, steps (`*/5`, `0/5`,
//!   `10-40/10`). `L` alone in day-of-week means `7` (Saturday), as in Quartz. Unlike Quartz,
//!   `*` in both day fields is accepted (every day); restricting both is an error.
//! - **Unix**, 5 fields: `min hour day-of-month month day-of-week`, seconds are `0`,
//!   day-of-week `0` and `7` are Sunday; when both day fields are restricted a day matching
//!   either fires (Vixie cron).
//!
//! Not supported (rejected with an error naming the field): `L-n` offsets, the `+` modifier,
//! `@daily`-style nicknames.
//!
//! # Time zones and the DST rule
//! An expression matches *wall-clock* times in the schedule's IANA zone. Each matching wall
//! time fires once, at one instant (see [`resolve_local`]):
//! - it exists once: that instant;
//! - it does not exist (spring forward): it is shifted forward by the gap, i.e. read with the
//!   offset in force before the gap — 02:30 on 2026-03-29 in Europe/Berlin fires at 03:30
//!   CEST (01:30 UTC);
//! - it exists twice (fall back): the first occurrence — 02:30 on 2026-10-25 in
//!   Europe/Berlin fires at 02:30 CEST (00:30 UTC), not again at 02:30 CET.
//!
//! Two wall times that land on the same instant fire once (`0 */30 * * * ?` on a
//! spring-forward night: 02:00 → 03:00 and 02:30 → 03:30, which fire anyway). So an
//! interval schedule never produces a duplicate instant, and during a repeated hour it does
//! not fire again: `0 */15 * * * ?` on 2026-10-25 in Europe/Berlin fires 02:00, 02:15,
//! 02:30, 02:45 CEST (00:00-00:45 UTC), then 03:00 CET (02:00 UTC); the second pass through
//! 02:00-02:59 (01:00-01:59 UTC) is silent. This matches "a repeated local time fires once".
//!
//! croner's own zone-aware search differs (a fixed time in a gap runs at the first instant
//! after the gap, 03:00; interval jobs fire on both passes of a repeated hour), so croner
//! is only asked about wall-clock (`NaiveDateTime`) times and the rule is applied here.
//!
//! # Misfires
//! [`due`] decides what the leader fires now, from the last fire time and the database
//! clock; see its documentation.

pub mod backfill;
mod due;
mod expr;
mod preview;
mod schedule;
#[cfg(test)]
mod tests;
pub mod window;

pub use due::{Due, Misfire, due};
pub use expr::{CronExpr, Syntax};
pub use preview::preview;
pub use schedule::{Schedule, parse_zone, resolve_local};

/// Why a cron expression or time zone was rejected. Every message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("cron expression {expr:?} has {found} fields (expected 5, 6 or 7)")]
    FieldCount { expr: String, found: usize },
    #[error(
        "invalid cron expression {expr:?}: {field} field {value:?}: {reason} (allowed: {allowed})"
    )]
    Field {
        expr: String,
        field: &'static str,
        value: String,
        reason: String,
        allowed: &'static str,
    },
    #[error("invalid cron expression {expr:?}: {reason}")]
    Invalid { expr: String, reason: String },
    #[error("unknown time zone {0:?} (expected an IANA name such as Europe/Berlin or UTC)")]
    UnknownZone(String),
}
