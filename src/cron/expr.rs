//! Parsing cron expressions and searching wall-clock times that match them.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDateTime, SubsecRound, TimeDelta, Timelike};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::CronError;

/// Which syntax an expression was written in (decided by its number of fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// 6 or 7 fields, seconds first, optional year; weekday `1 = SUN .. 7 = SAT`.
    Quartz,
    /// 5 fields, minute first; weekday `0` and `7 = SUN`.
    Unix,
}

/// A parsed cron expression: Quartz (6 or 7 fields, seconds first, optional year; `?`, `L`,
/// `W`, `#`; weekday numbers 1=SUN..7=SAT, names SUN-SAT, MON-FRI ranges) or Unix (5 fields,
/// minute first; weekday 0/7=SUN). `Display` gives the source text.
#[derive(Debug, Clone)]
pub struct CronExpr {
    source: String,
    syntax: Syntax,
    cron: Cron,
}

struct FieldInfo {
    name: &'static str,
    allowed: &'static str,
}

const SECONDS: FieldInfo = FieldInfo {
    name: "seconds",
    allowed: "0-59, *, lists, ranges, steps",
};
const MINUTES: FieldInfo = FieldInfo {
    name: "minutes",
    allowed: "0-59, *, lists, ranges, steps",
};
const HOURS: FieldInfo = FieldInfo {
    name: "hours",
    allowed: "0-23, *, lists, ranges, steps",
};
const DAY_OF_MONTH: FieldInfo = FieldInfo {
    name: "day-of-month",
    allowed: "1-31, *, ?, L, LW, nW, lists, ranges, steps",
};
const MONTH: FieldInfo = FieldInfo {
    name: "month",
    allowed: "1-12 or JAN-DEC, *, lists, ranges, steps",
};
const QUARTZ_DOW: FieldInfo = FieldInfo {
    name: "day-of-week",
    allowed: "1-7 with 1 = SUN or SUN-SAT, *, ?, nL, n#k, lists, ranges, steps",
};
const UNIX_DOW: FieldInfo = FieldInfo {
    name: "day-of-week",
    allowed: "0-7 with 0 and 7 = SUN or SUN-SAT, *, ?, nL, n#k, lists, ranges, steps",
};
const YEAR: FieldInfo = FieldInfo {
    name: "year",
    allowed: "a year such as 2026, *, lists, ranges, steps",
};

const QUARTZ_FIELDS: [FieldInfo; 7] = [
    SECONDS,
    MINUTES,
    HOURS,
    DAY_OF_MONTH,
    MONTH,
    QUARTZ_DOW,
    YEAR,
];
const UNIX_FIELDS: [FieldInfo; 5] = [MINUTES, HOURS, DAY_OF_MONTH, MONTH, UNIX_DOW];

impl Syntax {
    fn fields(self) -> &'static [FieldInfo] {
        match self {
            Syntax::Quartz => &QUARTZ_FIELDS,
            Syntax::Unix => &UNIX_FIELDS,
        }
    }

    /// Index of the day-of-month field; day-of-week follows month, two later.
    fn dom_index(self) -> usize {
        match self {
            Syntax::Quartz => 3,
            Syntax::Unix => 2,
        }
    }

    fn parser(self) -> CronParser {
        match self {
            // `alternative_weekdays` is Quartz numbering: without it `6#3` would silently
            // mean the third Saturday. `sloppy_ranges` accepts Quartz's `0/5` steps.
            Syntax::Quartz => CronParser::builder()
                .seconds(Seconds::Required)
                .year(Year::Optional)
                .alternative_weekdays(true)
                .sloppy_ranges(true)
                .build(),
            Syntax::Unix => CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .sloppy_ranges(true)
                .build(),
        }
    }
}

impl CronExpr {
    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// Whether a wall-clock time (seconds precision) matches the expression.
    pub fn matches(&self, wall: NaiveDateTime) -> bool {
        self.cron.is_time_matching(&wall).unwrap_or(false)
    }

    /// The first matching wall-clock time after `t` (at or after it when `inclusive`).
    /// `None` when nothing matches before croner's search horizon (year 5000).
    pub(super) fn next_wall(&self, t: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        // croner works in whole seconds: a fractional `t` is rounded up and searched inclusively.
        let (start, inclusive) = if t.nanosecond() != 0 {
            (
                t.trunc_subsecs(0)
                    .checked_add_signed(TimeDelta::seconds(1))?,
                true,
            )
        } else {
            (t, inclusive)
        };
        self.cron.find_next_occurrence(&start, inclusive).ok()
    }

    /// The last matching wall-clock time before `t` (at or before it when `inclusive`).
    pub(super) fn prev_wall(&self, t: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        let (start, inclusive) = if t.nanosecond() != 0 {
            (t.trunc_subsecs(0), true)
        } else {
            (t, inclusive)
        };
        self.cron.find_previous_occurrence(&start, inclusive).ok()
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for CronExpr {}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A day field that selects days (anything but `*` and `?`).
fn restricts(field: &str) -> bool {
    field != "*" && field != "?"
}

impl FromStr for CronExpr {
    type Err = CronError;

    fn from_str(s: &str) -> Result<CronExpr, CronError> {
        let source = s.trim().to_string();
        let original: Vec<String> = source.split_whitespace().map(str::to_string).collect();
        let mut fields: Vec<String> = original.iter().map(|f| f.to_ascii_uppercase()).collect();
        let syntax = match fields.len() {
            5 => Syntax::Unix,
            6 | 7 => Syntax::Quartz,
            found => {
                return Err(CronError::FieldCount {
                    expr: source,
                    found,
                });
            }
        };
        let infos = syntax.fields();
        let field_error = |i: usize, reason: &str| CronError::Field {
            expr: source.clone(),
            field: infos[i].name,
            value: original[i].clone(),
            reason: reason.to_string(),
            allowed: infos[i].allowed,
        };

        // Checks croner would get wrong or answer vaguely.
        let dom = syntax.dom_index();
        let dow = dom + 2;
        for (i, field) in fields.iter().enumerate() {
            if field.contains('+') {
                return Err(field_error(i, "the '+' modifier is not supported"));
            }
            // croner replaces names anywhere in the text: `MON` in the month field would
            // silently become February.
            let (names, letters): (&[&str], &str) = match i {
                _ if i == dom => (&[], "LW"),
                _ if i == dom + 1 => (&MONTH_NAMES, ""),
                _ if i == dow => (&WEEKDAY_NAMES, "L"),
                _ => (&[], ""),
            };
            let mut rest = field.clone();
            for name in names {
                rest = rest.replace(name, "");
            }
            if let Some(c) = rest
                .chars()
                .find(|c| c.is_ascii_alphabetic() && !letters.contains(*c))
            {
                return Err(field_error(i, &format!("unexpected letter '{c}'")));
            }
        }
        if fields[dom].contains("L-") {
            return Err(field_error(
                dom,
                "L-n (n days before the last day) is not supported",
            ));
        }
        if fields[dow] == "L" {
            match syntax {
                // Quartz: `L` alone in day-of-week is the last day of the week, Saturday.
                Syntax::Quartz => fields[dow] = "7".to_string(),
                Syntax::Unix => {
                    return Err(field_error(
                        dow,
                        "L alone is not a day of the week; write nL for the last weekday n of the month",
                    ));
                }
            }
        }
        if syntax == Syntax::Quartz && restricts(&fields[dom]) && restricts(&fields[dow]) {
            return Err(CronError::Invalid {
                expr: source,
                reason: format!(
                    "day-of-month {:?} and day-of-week {:?} are both set; Quartz syntax needs `?` in one of them",
                    original[dom], original[dow]
                ),
            });
        }

        let parser = syntax.parser();
        let cron = match parser.parse(&fields.join(" ")) {
            Ok(cron) => cron,
            Err(whole) => {
                // Name the field: parse each one alone, the others `*`.
                for i in 0..fields.len() {
                    let mut alone = vec!["*"; fields.len()];
                    alone[i] = &fields[i];
                    if let Err(e) = parser.parse(&alone.join(" ")) {
                        return Err(field_error(i, &field_reason(&e, i == dow, syntax)));
                    }
                }
                return Err(CronError::Invalid {
                    expr: source,
                    reason: reason(&whole),
                });
            }
        };
        // A day that no selected month has (`31 2`) never fires; croner would search to
        // year 5000 for it on every call.
        if !restricts(&fields[dow]) && never_in_months(&cron, &fields[dom]) {
            return Err(CronError::Invalid {
                reason: format!(
                    "it never fires: day-of-month {:?} does not occur in month {:?}",
                    original[dom],
                    original[dom + 1]
                ),
                expr: source,
            });
        }
        Ok(CronExpr {
            source,
            syntax,
            cron,
        })
    }
}

/// Whether every day the day-of-month field selects is past the end of every selected month.
fn never_in_months(cron: &Cron, dom_field: &str) -> bool {
    if !restricts(dom_field) || dom_field.contains('L') {
        return false;
    }
    let nearest_weekday_days = dom_field
        .split(',')
        .filter_map(|part| part.strip_suffix('W'))
        .filter_map(|day| day.parse::<u16>().ok());
    let Some(first_day) = cron
        .pattern
        .days
        .values()
        .into_iter()
        .chain(nearest_weekday_days)
        .min()
    else {
        return false;
    };
    let longest_month = cron
        .pattern
        .months
        .values()
        .into_iter()
        .map(|m| match m {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        })
        .max()
        .unwrap_or(31);
    first_day > longest_month
}

/// [`reason`], with croner's internal wording replaced where it would confuse.
fn field_reason(e: &croner::errors::CronError, day_of_week: bool, syntax: Syntax) -> String {
    let text = reason(e);
    if day_of_week && syntax == Syntax::Quartz && text.contains("input offset") {
        "0 is not a day of the week in Quartz syntax (1 = SUN .. 7 = SAT)".to_string()
    } else if text.starts_with("range") && text.contains("out of bounds") {
        format!("{text} or reversed (write SAT,SUN rather than SAT-SUN)")
    } else {
        text
    }
}

/// croner's message without its prefixes and capitals, to sit inside ours.
fn reason(e: &croner::errors::CronError) -> String {
    let text = e.to_string();
    let mut text = text.as_str();
    for prefix in [
        "Component error: ",
        "Invalid pattern: ",
        "Pattern contains illegal characters: ",
    ] {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    let text = text
        .trim_end_matches('.')
        .replace("CronPattern contains illegal", "illegal");
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        _ => text,
    }
}
