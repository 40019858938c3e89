//! The preview shared by `pgdag cron next` and `GET /api/v1/cron/preview`: the same engine
//! as the firer, so what it shows is what fires.

use chrono::{DateTime, Utc};

use super::Schedule;

/// The next `count` fire times of `expr` in `tz` after `from` (RFC 3339; default now), as
/// RFC 3339 strings with the zone's offset. `Err` says what is wrong with which input.
pub fn preview(
    expr: &str,
    tz: &str,
    from: Option<&str>,
    count: usize,
) -> Result<Vec<String>, String> {
    let schedule = Schedule::new(expr, tz).map_err(|e| e.to_string())?;
    let after = match from {
        None => Utc::now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("from {text:?} is not an RFC 3339 time: {e}"))?,
    };
    Ok(schedule
        .upcoming(after, count)
        .into_iter()
        .map(|t| t.to_rfc3339())
        .collect())
}
