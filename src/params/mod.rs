//! Task parameters: built-ins, layered resolution, `${name}` / `$[...]` expansion and the
//! `${setValue(name=value)}` out-param marker (DESIGN §5).
//!
//! Pure: no I/O and no clock. Every time is computed from [`RunContext::schedule_time`] read in
//! [`RunContext::timezone`], so the same run always sees the same values, on any worker.
//!
//! Semantics follow DolphinScheduler where it is sound, with these deliberate choices:
//! - Whole-day offsets (`$[yyyyMMdd-1]`, `add_months`, `week_first_day`...) are calendar
//!   arithmetic on the local wall clock, so "yesterday" is yesterday even across a DST change
//!   (DolphinScheduler subtracts 24 absolute hours, which lands on the wrong day after a
//!   spring-forward night). Sub-day offsets (`$[HH-1/24]`, `$[HHmm-5/24/60]`) move the
//!   instant itself, so "one hour earlier" is one real hour earlier.
//! - Expansion is one left-to-right pass: an inserted value is never scanned again, which is
//!   what makes self and mutual references unable to loop.
//! - `${name}` with an unknown name (bash's `${HOME}`, `${x:-y}`) is kept as written, but the
//!   scan continues inside it, so `${x:-$[yyyyMMdd]}` still gets its date.
//! - A `$[` with no `]` on the same line is kept as written (it cannot be a time expression);
//!   a complete `$[...]` that does not parse is an error, never silently passed to a script.

pub mod expr;
pub mod secrets;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc,
};
use chrono_tz::Tz;

/// Parameter name to value.
pub type ParamMap = BTreeMap<String, String>;

/// `system.biz.date`: schedule date minus one day, `yyyyMMdd`.
pub const BIZ_DATE: &str = "system.biz.date";
/// `system.biz.curdate`: schedule date, `yyyyMMdd`.
pub const BIZ_CURDATE: &str = "system.biz.curdate";
/// `system.datetime`: schedule time, `yyyyMMddHHmmss`.
pub const DATETIME: &str = "system.datetime";
/// `system.task.instance.id`.
pub const TASK_INSTANCE_ID: &str = "system.task.instance.id";
/// `system.workflow.instance.id`.
pub const WORKFLOW_INSTANCE_ID: &str = "system.workflow.instance.id";
/// `system.workflow.definition.name`.
pub const WORKFLOW_DEFINITION_NAME: &str = "system.workflow.definition.name";
/// `system.project.name`.
pub const PROJECT_NAME: &str = "system.project.name";

/// Facts about one task run used for the built-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    /// The instance's schedule time, or its start time for a manual run.
    pub schedule_time: DateTime<Utc>,
    /// The schedule's time zone (UTC when none).
    pub timezone: Tz,
    pub project: String,
    pub workflow: String,
    pub workflow_instance_id: i64,
    pub task_instance_id: i64,
}

impl RunContext {
    /// The schedule time on the wall clock of the schedule's time zone.
    fn local(&self) -> NaiveDateTime {
        self.schedule_time
            .with_timezone(&self.timezone)
            .naive_local()
    }
}

/// Why a parameter could not be resolved or expanded. Every message quotes the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A complete `$[...]` that is not a valid time expression.
    #[error("malformed time expression `$[{expr}]`: {reason}")]
    MalformedTime { expr: String, reason: String },
    /// A valid time expression whose result falls outside the representable dates.
    #[error("time expression `$[{expr}]` leaves the supported date range")]
    TimeOutOfRange { expr: String },
    /// An error while expanding the value of one parameter during [`resolve`].
    #[error("param `{name}`: {error}")]
    InParam {
        name: String,
        error: Box<ParamError>,
    },
}
/// A JSON object of params as strings (numbers and booleans by their text).
pub fn json_to_params(value: &serde_json::Value) -> ParamMap {
    let mut map = BTreeMap::new();
    if let Some(object) = value.as_object() {
        for (k, v) in object {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            map.insert(k.clone(), text);
        }
    }
    map
}

/// The built-in parameters of DESIGN §5/§6 for this run, dates and times in `ctx.timezone`.
pub fn builtins(ctx: &RunContext) -> ParamMap {
    let local = ctx.local();
    let today = local.date();
    // `pred_opt` only fails on chrono's minimum date; keep today rather than panic.
    let yesterday = today.pred_opt().unwrap_or(today);
    let mut m = ParamMap::new();
    m.insert(BIZ_DATE.into(), ymd(yesterday));
    m.insert(BIZ_CURDATE.into(), ymd(today));
    m.insert(
        DATETIME.into(),
        format!(
            "{}{:02}{:02}{:02}",
            ymd(today),
            local.hour(),
            local.minute(),
            local.second()
        ),
    );
    m.insert(TASK_INSTANCE_ID.into(), ctx.task_instance_id.to_string());
    m.insert(
        WORKFLOW_INSTANCE_ID.into(),
        ctx.workflow_instance_id.to_string(),
    );
    m.insert(WORKFLOW_DEFINITION_NAME.into(), ctx.workflow.clone());
    m.insert(PROJECT_NAME.into(), ctx.project.clone());
    m
}

fn ymd(d: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

/// Resolve the parameters a task sees.
///
/// Layers, lowest to highest: built-ins, `global` (workflow), `startup`, `upstream_out`,
/// `local` (task); a higher layer's value replaces a lower one's. Values of the global,
/// startup and local layers are expanded with [`expand`] against the layers below plus the
/// values of their own layer (resolved in dependency order). A reference that would loop (a
/// param naming itself, or a cycle inside one layer) sees the value from the layers below,
/// and is kept as written when there is none. Upstream out params are values a task already
/// printed and are taken literally.
pub fn resolve(
    ctx: &RunContext,
    global: &ParamMap,
    startup: &ParamMap,
    upstream_out: &ParamMap,
    local: &ParamMap,
) -> Result<ParamMap, ParamError> {
    let mut resolved = builtins(ctx);
    resolve_layer(&mut resolved, global, ctx)?;
    resolve_layer(&mut resolved, startup, ctx)?;
    for (k, v) in upstream_out {
        resolved.insert(k.clone(), v.clone());
    }
    resolve_layer(&mut resolved, local, ctx)?;
    Ok(resolved)
}

/// Expand every value of `layer` and lay the results over `below`.
///
/// A depth-first walk (iterative, so a long reference chain cannot overflow the stack)
/// resolves a param's same-layer references before the param itself. A reference to a
/// same-layer param that is still on the walk's path (itself, or a cycle) is unresolved at
/// that point and falls through to `below`.
fn resolve_layer(
    below: &mut ParamMap,
    layer: &ParamMap,
    ctx: &RunContext,
) -> Result<(), ParamError> {
    let mut done: BTreeMap<&str, String> = BTreeMap::new();
    let mut on_path: BTreeSet<&str> = BTreeSet::new();
    for root in layer.keys() {
        if done.contains_key(root.as_str()) {
            continue;
        }
        let mut path: Vec<(&str, Vec<&str>, usize)> = vec![(root, same_layer_refs(root, layer), 0)];
        on_path.insert(root);
        while let Some((key, deps, next)) = path.last_mut() {
            if let Some(&dep) = deps.get(*next) {
                *next += 1;
                if !done.contains_key(dep) && on_path.insert(dep) {
                    path.push((dep, same_layer_refs(dep, layer), 0));
                }
                continue;
            }
            let key = *key;
            let raw = layer.get(key).map(String::as_str).unwrap_or_default();
            let value = expand_with(
                raw,
                &mut |name| {
                    if name == key {
                        return below.get(name).cloned();
                    }
                    done.get(name).or_else(|| below.get(name)).cloned()
                },
                &mut |expr| eval_time(expr, ctx),
            )
            .map_err(|e| ParamError::InParam {
                name: key.to_string(),
                error: Box::new(e),
            })?;
            on_path.remove(key);
            done.insert(key, value);
            path.pop();
        }
    }
    for (k, v) in done {
        below.insert(k.to_string(), v);
    }
    Ok(())
}

/// The other params of `layer` that the value of `key` may reference, in order of appearance.
/// Scanning without resolving can report a few names a real expansion would not look up (inside
/// a `${...}` that turns out known); that only adds ordering edges, never changes a value.
fn same_layer_refs<'a>(key: &str, layer: &'a ParamMap) -> Vec<&'a str> {
    let mut refs: Vec<&'a str> = Vec::new();
    let raw = layer.get(key).map(String::as_str).unwrap_or_default();
    // The scan itself cannot fail: time expressions are not evaluated here.
    let _ = expand_with(
        raw,
        &mut |name| {
            if let Some((k, _)) = layer.get_key_value(name)
                && k != key
                && !refs.contains(&k.as_str())
            {
                refs.push(k.as_str());
            }
            None
        },
        &mut |_| Ok(String::new()),
    );
    refs
}

/// Expand `${name}` references and `$[...]` time expressions in `text`.
///
/// - `${name}` with a known name (surrounding spaces ignored) becomes its value; an unknown
///   name is left untouched (scripts use bash's `${VAR}`).
/// - `${setValue(...)}` is never replaced: it is the out-param marker the task prints
///   (references inside it, as in `${setValue(d=${dt})}`, are expanded).
/// - `$[...]` is a time expression on `ctx.schedule_time` in `ctx.timezone`; a malformed
///   one is an error naming it. A `$[` without a `]` on the same line is left as is.
///
/// Inserted values are not scanned again.
pub fn expand(text: &str, params: &ParamMap, ctx: &RunContext) -> Result<String, ParamError> {
    expand_with(text, &mut |name| params.get(name).cloned(), &mut |expr| {
        eval_time(expr, ctx)
    })
}

/// The one scanner behind [`expand`], [`resolve`] and reference discovery.
fn expand_with(
    text: &str,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    time: &mut dyn FnMut(&str) -> Result<String, ParamError>,
) -> Result<String, ParamError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("${") {
            if !after.starts_with("setValue(")
                && let Some(close) = after.find('}')
            {
                let name = after[..close].trim();
                if !name.is_empty()
                    && let Some(value) = lookup(name)
                {
                    out.push_str(&value);
                    rest = &after[close + 1..];
                    continue;
                }
            }
            // Unknown name or out-param marker: keep `${` and go on scanning inside.
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("$[") {
            let line = &after[..after.find('\n').unwrap_or(after.len())];
            match line.find(']') {
                Some(close) => {
                    out.push_str(&time(&after[..close])?);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str("$[");
                    rest = after;
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Out params printed by a task: every `${setValue(name=value)}` in one line of stdout
/// (several per line allowed). The name (up to the first `=`) is trimmed; the value is
/// everything up to the first `)}` after it, trimmed, so it may hold `=`, spaces and `)`.
/// Occurrences with no `=`, an empty name or no closing `)}` are ignored.
pub fn parse_set_value(line: &str) -> Vec<(String, String)> {
    const OPEN: &str = "${setValue(";
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(OPEN) {
        let body = &rest[start + OPEN.len()..];
        let Some(end) = body.find(")}") else {
            break;
        };
        if let Some((name, value)) = body[..end].split_once('=') {
            let name = name.trim();
            if !name.is_empty() {
                found.push((name.to_string(), value.trim().to_string()));
            }
        }
        rest = &body[end + 2..];
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Time expressions
// ---------------------------------------------------------------------------------------------

/// Evaluate the inside of one `$[...]`.
fn eval_time(raw: &str, ctx: &RunContext) -> Result<String, ParamError> {
    let expr = raw.trim();
    let now = ctx.local();
    let evaluated = if let Some((func, args)) = split_call(expr) {
        eval_function(func, args, now)
    } else {
        eval_offset(expr, ctx)
    };
    evaluated.map_err(|failure| match failure {
        Failure::Malformed(reason) => ParamError::MalformedTime {
            expr: raw.to_string(),
            reason,
        },
        Failure::OutOfRange => ParamError::TimeOutOfRange {
            expr: raw.to_string(),
        },
    })
}

/// Why one time expression failed; [`eval_time`] adds the expression text.
enum Failure {
    Malformed(String),
    OutOfRange,
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Failure::Malformed(reason)
    }
}

/// `format`, `format+N`, `format-N`, `format-N/24`, `format-N/24/60`, `format-7*N`.
fn eval_offset(expr: &str, ctx: &RunContext) -> Result<String, Failure> {
    if expr.is_empty() {
        return Err(Failure::Malformed("empty expression".into()));
    }
    let Some((fmt, sign, offset)) = split_offset(expr) else {
        return Ok(Pattern::parse(expr)?.render(&ctx.local()));
    };
    let pattern = Pattern::parse(fmt)?;
    let minutes = offset_minutes(offset)?
        .checked_mul(sign)
        .ok_or(Failure::OutOfRange)?;
    let at = if minutes % 1440 == 0 {
        add_days(ctx.local(), minutes / 1440)
    } else {
        TimeDelta::try_minutes(minutes)
            .and_then(|d| ctx.schedule_time.checked_add_signed(d))
            .map(|t| t.with_timezone(&ctx.timezone).naive_local())
    };
    Ok(pattern.render(&at.ok_or(Failure::OutOfRange)?))
}

/// `add_months(format, N)`, `this_day(format)`, `last_day(format)`,
/// `month_first_day(format, N)`, `month_last_day(format, N)`, `week_first_day(format, N)`,
/// `week_last_day(format, N)`, `year_week(format[, first weekday])`.
fn eval_function(func: &str, args: &str, now: NaiveDateTime) -> Result<String, Failure> {
    // The number, when there is one, follows the last comma: a format may hold commas.
    let (fmt, n) = match args.rsplit_once(',') {
        Some((fmt, n)) => match parse_int(n) {
            Some(n) => (fmt.trim(), Some(n)),
            None => (args.trim(), None),
        },
        None => (args.trim(), None),
    };
    let needs_n = || -> Result<i64, Failure> {
        n.ok_or_else(|| Failure::Malformed(format!("`{func}` takes (format, integer)")))
    };
    let at = match func {
        "this_day" | "last_day" if n.is_some() => {
            return Err(Failure::Malformed(format!("`{func}` takes only a format")));
        }
        "this_day" => Some(now),
        "last_day" => month_last_day(now, 0),
        "add_months" => add_months(now, needs_n()?),
        "month_first_day" => add_months(now, needs_n()?).and_then(|t| t.with_day(1)),
        "month_last_day" => month_last_day(now, needs_n()?),
        "week_first_day" => add_weeks(now, needs_n()?)
            .and_then(|t| t.checked_sub_days(Days::new(t.weekday().num_days_from_monday().into()))),
        "week_last_day" => add_weeks(now, needs_n()?).and_then(|t| {
            let to_sunday = 6 - t.weekday().num_days_from_monday();
            t.checked_add_days(Days::new(to_sunday.into()))
        }),
        "year_week" => {
            let first = n.unwrap_or(1);
            let first = u32::try_from(first)
                .ok()
                .filter(|d| (1..=7).contains(d))
                .ok_or_else(|| {
                    format!("first day of week must be 1 (Monday) to 7 (Sunday), got {first}")
                })?;
            let pattern = Pattern::parse(fmt)?;
            let (year, week) = year_week(now.date(), first).ok_or(Failure::OutOfRange)?;
            return Ok(match pattern.separator() {
                Some(sep) => format!("{year}{sep}{week:02}"),
                None => format!("{year}{week:02}"),
            });
        }
        _ => {
            return Err(Failure::Malformed(format!(
                "unknown function `{func}` (known: add_months, this_day, last_day, \
                 month_first_day, month_last_day, week_first_day, week_last_day, year_week)"
            )));
        }
    };
    let pattern = Pattern::parse(fmt)?;
    Ok(pattern.render(&at.ok_or(Failure::OutOfRange)?))
}

/// `name(args)` when `expr` is a call: an identifier that is not a plain run of pattern letters
/// (so `yyyy(MM)` stays a format with literal parentheses) directly followed by `(`.
fn split_call(expr: &str) -> Option<(&str, &str)> {
    let open = expr.find('(')?;
    let name = expr[..open].trim_end();
    let args = expr[open + 1..].strip_suffix(')')?;
    let is_ident = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let is_pattern = name.chars().all(|c| PATTERN_LETTERS.contains(c));
    (is_ident && !is_pattern).then_some((name, args))
}

/// The last `+` or `-` outside quotes and followed (after optional spaces) by a digit splits a
/// format from its offset: `yyyy-MM-dd-1` is `yyyy-MM-dd` minus one day, `yyyy-MM-dd` has no
/// offset, and `HH:mm'+01:00'` is a format with a quoted literal.
fn split_offset(expr: &str) -> Option<(&str, i64, &str)> {
    let mut quoted = false;
    let mut found = None;
    for (i, b) in expr.bytes().enumerate() {
        let sign = match b {
            b'\'' => {
                quoted = !quoted;
                continue;
            }
            b'+' if !quoted => 1,
            b'-' if !quoted => -1,
            _ => continue,
        };
        let offset = expr[i + 1..].trim_start();
        if offset.starts_with(|c: char| c.is_ascii_digit()) {
            found = Some((expr[..i].trim_end(), sign, offset.trim_end()));
        }
    }
    found
}

/// Minutes of an offset in days: `N` days, `N/24` hours, `N/24/60` minutes, `7*N` days;
/// `*` and `/` apply left to right on whole minutes (DolphinScheduler's
/// `60*24*(first factor)...` rule), so `1/24` is 60 and `1/24/60` is 1.
fn offset_minutes(offset: &str) -> Result<i64, String> {
    let bad = || format!("`{offset}` is not an offset like N, N/24, N/24/60 or N*K");
    let mut tokens = Vec::new();
    let mut num = String::new();
    for c in offset.chars() {
        match c {
            '0'..='9' => num.push(c),
            '*' | '/' => {
                tokens.push(std::mem::take(&mut num));
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => {}
            _ => return Err(bad()),
        }
    }
    tokens.push(num);
    let mut iter = tokens.iter();
    let overflow = || format!("offset `{offset}` is too large");
    let parse = |s: &String| -> Result<i64, String> {
        if s.is_empty() {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| overflow())
    };
    let mut value = parse(iter.next().ok_or_else(bad)?)?;
    let mut scaled = false;
    while let Some(op) = iter.next() {
        let n = parse(iter.next().ok_or_else(bad)?)?;
        if op == "/" && !scaled {
            value = value.checked_mul(1440).ok_or_else(overflow)?;
            scaled = true;
        }
        value = if op == "*" {
            value.checked_mul(n).ok_or_else(overflow)?
        } else if n == 0 {
            return Err(format!("division by zero in `{offset}`"));
        } else {
            value / n
        };
    }
    if !scaled {
        value = value.checked_mul(1440).ok_or_else(overflow)?;
    }
    Ok(value)
}

/// A function's integer argument: an optional sign and `*`-separated factors (`-1`, `12*2`).
fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (sign, body) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    body.split('*').try_fold(sign, |acc: i64, f| {
        let f = f.trim();
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        acc.checked_mul(f.parse().ok()?)
    })
}

fn add_days(t: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let days = Days::new(n.unsigned_abs());
    if n >= 0 {
        t.checked_add_days(days)
    } else {
        t.checked_sub_days(days)
    }
}

fn add_weeks(t: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    add_days(t, n.checked_mul(7)?)
}

/// `n` calendar months later; the day is clamped to the end of a shorter month (Java's
/// `Calendar.add(MONTH, n)`): Mar 31 minus one month is Feb 28 (or 29).
fn add_months(t: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let months = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        t.checked_add_months(months)
    } else {
        t.checked_sub_months(months)
    }
}

/// The last day of the month `n` months from `t`, at `t`'s time of day.
fn month_last_day(t: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let first = add_months(t, n)?.with_day(1)?;
    first
        .checked_add_months(Months::new(1))?
        .checked_sub_days(Days::new(1))
}

/// Week-based year and week number, weeks starting on `first` (1 = Monday .. 7 = Sunday) and
/// week 1 being the first week with at least four days in the year (ISO 8601 for Monday).
fn year_week(d: NaiveDate, first: u32) -> Option<(i32, u32)> {
    let since_start = (d.weekday().num_days_from_monday() + 7 - (first - 1)) % 7;
    let week_start = d.checked_sub_days(Days::new(since_start.into()))?;
    // The week belongs to the year holding its fourth day.
    let anchor = week_start.checked_add_days(Days::new(3))?;
    Some((anchor.year(), anchor.ordinal0() / 7 + 1))
}

// ---------------------------------------------------------------------------------------------
// Java-style date patterns
// ---------------------------------------------------------------------------------------------

/// Pattern letters understood (a subset of Java's `SimpleDateFormat`). Any other ASCII letter
/// is an error except `T`, which is literal (`yyyy-MM-ddTHH:mm`).
const PATTERN_LETTERS: &str = "yMdHhmsSEaDu";

enum Piece {
    Literal(String),
    /// A pattern letter and how many times it is repeated.
    Field(char, usize),
}

/// A parsed Java-style date pattern such as `yyyy-MM-dd HH:mm:ss`.
struct Pattern(Vec<Piece>);

impl Pattern {
    fn parse(fmt: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                // Java quoting: `'text'` is literal, `''` is one quote.
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated quote in `{fmt}`")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(q) => literal.push(q),
                    }
                }
            } else if PATTERN_LETTERS.contains(c) {
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Field(c, count));
            } else if c.is_ascii_alphabetic() && c != 'T' {
                return Err(format!(
                    "unknown pattern letter `{c}` (use yyyy, MM, dd, HH, mm, ss; \
                     quote other text as 'text')"
                ));
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Field(..))) {
            return Err(format!(
                "`{fmt}` has no date or time field (such as yyyy, MM, dd)"
            ));
        }
        Ok(Pattern(pieces))
    }

    /// The first literal character between fields, used by `year_week` (`yyyy-MM-dd` → `-`).
    fn separator(&self) -> Option<char> {
        self.0.iter().find_map(|p| match p {
            Piece::Literal(s) => s.chars().next(),
            Piece::Field(..) => None,
        })
    }

    fn render(&self, t: &NaiveDateTime) -> String {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        const DAYS: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        let mut out = String::new();
        for piece in &self.0 {
            let (c, n) = match piece {
                Piece::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Piece::Field(c, n) => (*c, *n),
            };
            let num = |v: i64| format!("{v:0n$}");
            let text = match c {
                'y' if n == 2 => format!("{:02}", t.year().rem_euclid(100)),
                'y' => num(t.year().into()),
                'M' if n >= 4 => MONTHS[t.month0() as usize].to_string(),
                'M' if n == 3 => MONTHS[t.month0() as usize][..3].to_string(),
                'M' => num(t.month().into()),
                'd' => num(t.day().into()),
                'H' => num(t.hour().into()),
                'h' => num(match t.hour() % 12 {
                    0 => 12,
                    h => h.into(),
                }),
                'm' => num(t.minute().into()),
                's' => num(t.second().into()),
                'S' => num((t.nanosecond() / 1_000_000).into()),
                'E' => {
                    let day = DAYS[t.weekday().num_days_from_monday() as usize];
                    if n >= 4 { day } else { &day[..3] }.to_string()
                }
                'a' => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
                'D' => num(t.ordinal().into()),
                'u' => num(t.weekday().number_from_monday().into()),
                _ => String::new(),
            };
            out.push_str(&text);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx_at(utc: &str, tz: Tz) -> RunContext {
        RunContext {
            schedule_time: utc.parse().expect("test instant"),
            timezone: tz,
            project: "analytics".into(),
            workflow: "daily_sales".into(),
            workflow_instance_id: 42,
            task_instance_id: 7,
        }
    }

    /// 2026-03-01T01:30:00Z is Sunday 2026-03-01 02:30:00 in Berlin (CET, UTC+1).
    fn base() -> RunContext {
        ctx_at("2026-03-01T01:30:00Z", chrono_tz::Europe::Berlin)
    }

    fn berlin(utc: &str) -> RunContext {
        ctx_at(utc, chrono_tz::Europe::Berlin)
    }

    fn utc(utc: &str) -> RunContext {
        ctx_at(utc, chrono_tz::UTC)
    }

    fn map(pairs: &[(&str, &str)]) -> ParamMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ex(text: &str, ctx: &RunContext) -> String {
        expand(text, &ParamMap::new(), ctx).expect("expands")
    }

    /// Assert a table of `$[...]` expressions against one context.
    fn check(ctx: &RunContext, cases: &[(&str, &str)]) {
        for (expr, want) in cases {
            let got = expand(&format!("$[{expr}]"), &ParamMap::new(), ctx);
            assert_eq!(
                got.as_deref(),
                Ok(*want),
                "$[{expr}] at {}",
                ctx.schedule_time
            );
        }
    }

    fn malformed(text: &str) -> ParamError {
        expand(text, &ParamMap::new(), &base()).expect_err(text)
    }

    // --- built-ins -----------------------------------------------------------------------

    #[test]
    fn builtins_are_in_the_schedule_time_zone() {
        let b = builtins(&base());
        assert_eq!(b[BIZ_DATE], "20260228");
        assert_eq!(b[BIZ_CURDATE], "20260301");
        assert_eq!(b[DATETIME], "20260301023000");
        assert_eq!(b[TASK_INSTANCE_ID], "7");
        assert_eq!(b[WORKFLOW_INSTANCE_ID], "42");
        assert_eq!(b[WORKFLOW_DEFINITION_NAME], "daily_sales");
        assert_eq!(b[PROJECT_NAME], "analytics");
        assert_eq!(b.len(), 7);
    }

    #[test]
    fn builtins_same_instant_other_zones() {
        let ny = builtins(&ctx_at(
            "2026-03-01T01:30:00Z",
            chrono_tz::America::New_York,
        ));
        assert_eq!(ny[BIZ_CURDATE], "20260228");
        assert_eq!(ny[BIZ_DATE], "20260227");
        assert_eq!(ny[DATETIME], "20260228203000");
        let u = builtins(&utc("2026-03-01T01:30:00Z"));
        assert_eq!(u[BIZ_CURDATE], "20260301");
        assert_eq!(u[DATETIME], "20260301013000");
        let tokyo = builtins(&ctx_at("2026-02-28T15:00:00Z", chrono_tz::Asia::Tokyo));
        assert_eq!(tokyo[BIZ_CURDATE], "20260301");
        assert_eq!(tokyo[BIZ_DATE], "20260228");
    }

    #[test]
    fn builtins_year_boundary_and_leap_day() {
        let b = builtins(&berlin("2025-12-31T23:30:00Z"));
        assert_eq!(b[BIZ_CURDATE], "20260101");
        assert_eq!(b[BIZ_DATE], "20251231");
        assert_eq!(b[DATETIME], "20260101003000");
        let leap = builtins(&utc("2028-03-01T10:00:00Z"));
        assert_eq!(leap[BIZ_DATE], "20280229");
        let not_leap = builtins(&utc("2026-03-01T10:00:00Z"));
        assert_eq!(not_leap[BIZ_DATE], "20260228");
    }

    #[test]
    fn builtin_biz_date_is_calendar_yesterday_after_spring_forward() {
        // 2026-03-30 00:30 CEST; 24 real hours earlier is 2026-03-28 23:30 CET.
        let b = builtins(&berlin("2026-03-29T22:30:00Z"));
        assert_eq!(b[BIZ_CURDATE], "20260330");
        assert_eq!(b[BIZ_DATE], "20260329");
    }

    // --- formats -------------------------------------------------------------------------

    #[test]
    fn plain_formats() {
        check(
            &base(),
            &[
                ("yyyyMMdd", "20260301"),
                ("HHmmss", "023000"),
                ("yyyy-MM-dd HH:mm:ss", "2026-03-01 02:30:00"),
                ("yyyyMMddHHmmss", "20260301023000"),
                ("yyyy/MM/dd", "2026/03/01"),
                ("yyyy-MM-ddTHH:mm", "2026-03-01T02:30"),
                ("yyyyMMdd'T'HH", "20260301T02"),
                ("yy", "26"),
                ("M/d/yyyy H", "3/1/2026 2"),
                ("hh a", "02 AM"),
                ("EEE, d MMM yyyy", "Sun, 1 Mar 2026"),
                ("EEEE MMMM", "Sunday March"),
                ("D u", "60 7"),
                ("SSS", "000"),
                ("yyyy年MM月dd日", "2026年03月01日"),
                ("'it''s' yyyy", "it's 2026"),
                (" yyyyMMdd ", "20260301"),
                ("yyyy(MM)", "2026(03)"),
                ("HH:mm'+01:00'", "02:30+01:00"),
                ("HH:mm'-1'-1", "02:30-1"),
            ],
        );
    }

    #[test]
    fn day_offsets() {
        check(
            &base(),
            &[
                ("yyyyMMdd-1", "20260228"),
                ("yyyyMMdd+1", "20260302"),
                ("yyyyMMdd+7", "20260308"),
                ("yyyyMMdd-0", "20260301"),
                ("yyyy-MM-dd-1", "2026-02-28"),
                ("yyyy-MM-dd+1", "2026-03-02"),
                ("yyyy-MM-dd HH:mm:ss-1", "2026-02-28 02:30:00"),
                ("yyyyMMdd - 1", "20260228"),
                ("yyyyMMdd-7*2", "20260215"),
                ("yyyyMMdd-365", "20250301"),
                ("yyyyMMdd+366", "20270302"),
            ],
        );
    }

    #[test]
    fn day_offsets_across_year_and_leap_day() {
        check(
            &berlin("2025-12-31T23:30:00Z"),
            &[("yyyyMMdd-1", "20251231"), ("yyyy-MM-dd+31", "2026-02-01")],
        );
        check(&utc("2026-12-31T12:00:00Z"), &[("yyyyMMdd+1", "20270101")]);
        check(
            &utc("2028-02-28T12:00:00Z"),
            &[("yyyyMMdd+1", "20280229"), ("yyyyMMdd+2", "20280301")],
        );
        check(&utc("2028-03-01T00:00:00Z"), &[("yyyyMMdd-1", "20280229")]);
    }

    #[test]
    fn hour_and_minute_offsets() {
        check(
            &base(),
            &[
                ("HHmmss-1/24", "013000"),
                ("HHmmss+1/24", "033000"),
                ("yyyyMMddHHmmss-3/24", "20260228233000"),
                ("HHmmss-1/24/60", "022900"),
                ("HHmmss+90/24/60", "040000"),
                ("yyyyMMddHHmm-150/24/60", "202603010000"),
                ("yyyyMMddHH+24/24", "2026030202"),
                ("HH:mm-1/2", "14:30"),
            ],
        );
    }

    #[test]
    fn day_offsets_are_calendar_days_across_dst() {
        // 2026-03-30 00:30 CEST, the night after spring-forward.
        check(
            &berlin("2026-03-29T22:30:00Z"),
            &[
                ("yyyyMMdd-1", "20260329"),
                ("yyyyMMddHHmm-1", "202603290030"),
                ("yyyyMMddHH-24/24", "2026032900"),
            ],
        );
    }

    #[test]
    fn hour_offsets_are_real_hours_across_dst() {
        // 03:30 CEST right after the 02:00 -> 03:00 jump: one hour earlier is 01:30 CET.
        check(
            &berlin("2026-03-29T01:30:00Z"),
            &[("HH:mm", "03:30"), ("HH:mm-1/24", "01:30")],
        );
        // Fall back: 02:30 CET (second pass); one hour earlier is 02:30 CEST.
        check(
            &berlin("2026-10-25T01:30:00Z"),
            &[
                ("HH:mm", "02:30"),
                ("HH:mm-1/24", "02:30"),
                ("HH:mm-2/24", "01:30"),
            ],
        );
    }

    // --- functions -----------------------------------------------------------------------

    #[test]
    fn add_months_forms() {
        check(
            &base(),
            &[
                ("add_months(yyyyMMdd,-1)", "20260201"),
                ("add_months(yyyy-MM-dd,12)", "2027-03-01"),
                ("add_months(yyyyMMdd,-12*2)", "20240301"),
                ("add_months(yyyyMMdd, 0)", "20260301"),
                ("add_months(yyyy-MM-dd HH:mm,+1)", "2026-04-01 02:30"),
                ("add_months(yyyyMMdd,-3)", "20251201"),
            ],
        );
    }

    #[test]
    fn add_months_clamps_to_month_end() {
        check(
            &berlin("2026-03-31T10:00:00Z"),
            &[
                ("add_months(yyyyMMdd,-1)", "20260228"),
                ("add_months(yyyyMMdd,1)", "20260430"),
                ("add_months(yyyyMMdd,2)", "20260531"),
            ],
        );
        check(
            &utc("2028-03-31T10:00:00Z"),
            &[("add_months(yyyyMMdd,-1)", "20280229")],
        );
        check(
            &utc("2028-02-29T12:00:00Z"),
            &[
                ("add_months(yyyyMMdd,12)", "20290228"),
                ("add_months(yyyyMMdd,48)", "20320229"),
                ("add_months(yyyyMMdd,-1)", "20280129"),
            ],
        );
    }

    #[test]
    fn this_day_and_last_day() {
        check(
            &base(),
            &[
                ("this_day(yyyy-MM-dd)", "2026-03-01"),
                ("this_day(yyyyMMdd HH)", "20260301 02"),
                ("this_day(MMM d, yyyy)", "Mar 1, 2026"),
                ("add_months(MMM d, yyyy, 1)", "Apr 1, 2026"),
                ("last_day(yyyy-MM-dd)", "2026-03-31"),
            ],
        );
        check(
            &utc("2028-02-10T00:00:00Z"),
            &[("last_day(yyyy-MM-dd)", "2028-02-29")],
        );
        check(
            &utc("2026-02-10T00:00:00Z"),
            &[("last_day(yyyy-MM-dd)", "2026-02-28")],
        );
        check(
            &utc("2026-12-05T00:00:00Z"),
            &[("last_day(yyyyMMdd)", "20261231")],
        );
        check(
            &utc("2026-04-30T00:00:00Z"),
            &[("last_day(yyyyMMdd)", "20260430")],
        );
    }

    #[test]
    fn month_first_and_last_day() {
        check(
            &base(),
            &[
                ("month_first_day(yyyy-MM-dd,0)", "2026-03-01"),
                ("month_first_day(yyyy-MM-dd,-1)", "2026-02-01"),
                ("month_first_day(yyyyMMdd,10)", "20270101"),
                ("month_last_day(yyyy-MM-dd,0)", "2026-03-31"),
                ("month_last_day(yyyy-MM-dd,-1)", "2026-02-28"),
                ("month_last_day(yyyy-MM-dd,1)", "2026-04-30"),
            ],
        );
        check(
            &utc("2026-01-15T08:00:00Z"),
            &[
                ("month_last_day(yyyy-MM-dd,-1)", "2025-12-31"),
                ("month_first_day(yyyy-MM-dd,-1)", "2025-12-01"),
                ("month_first_day(yyyy-MM-dd,-12)", "2025-01-01"),
            ],
        );
        check(
            &utc("2028-03-15T08:00:00Z"),
            &[("month_last_day(yyyyMMdd,-1)", "20280229")],
        );
        // From the 31st, the month shift must not skip a short month.
        check(
            &berlin("2026-03-31T10:00:00Z"),
            &[
                ("month_last_day(yyyy-MM-dd,-1)", "2026-02-28"),
                ("month_first_day(yyyy-MM-dd,1)", "2026-04-01"),
                ("month_last_day(yyyy-MM-dd,1)", "2026-04-30"),
            ],
        );
    }

    #[test]
    fn week_first_and_last_day() {
        // base is a Sunday: its week runs Monday 02-23 .. Sunday 03-01.
        check(
            &base(),
            &[
                ("week_first_day(yyyy-MM-dd,0)", "2026-02-23"),
                ("week_last_day(yyyy-MM-dd,0)", "2026-03-01"),
                ("week_first_day(yyyy-MM-dd,-1)", "2026-02-16"),
                ("week_last_day(yyyy-MM-dd,-1)", "2026-02-22"),
                ("week_first_day(yyyy-MM-dd,1)", "2026-03-02"),
                ("week_last_day(yyyyMMdd,1)", "20260308"),
            ],
        );
        // A Monday is its own week's first day.
        check(
            &utc("2026-03-02T00:00:00Z"),
            &[
                ("week_first_day(yyyy-MM-dd,0)", "2026-03-02"),
                ("week_last_day(yyyy-MM-dd,0)", "2026-03-08"),
            ],
        );
        // Thursday 2026-01-01: the week straddles the year boundary.
        check(
            &utc("2026-01-01T12:00:00Z"),
            &[
                ("week_first_day(yyyy-MM-dd,0)", "2025-12-29"),
                ("week_last_day(yyyy-MM-dd,0)", "2026-01-04"),
                ("week_last_day(yyyy-MM-dd,-1)", "2025-12-28"),
            ],
        );
        // Leap week.
        check(
            &utc("2028-03-01T12:00:00Z"),
            &[("week_first_day(yyyyMMdd,0)", "20280228")],
        );
    }

    #[test]
    fn year_week_forms() {
        check(&base(), &[("year_week(yyyy-MM-dd)", "2026-09")]);
        check(
            &utc("2026-01-01T12:00:00Z"),
            &[
                ("year_week(yyyy-MM-dd)", "2026-01"),
                ("year_week(yyyyMMdd)", "202601"),
            ],
        );
        // Friday 2027-01-01 is in ISO week 53 of 2026.
        check(
            &utc("2027-01-01T12:00:00Z"),
            &[("year_week(yyyy-MM-dd)", "2026-53")],
        );
        // Saturday 2026-02-28: week 9 with Monday-first weeks, week 8 with Sunday-first.
        check(
            &utc("2026-02-28T12:00:00Z"),
            &[
                ("year_week(yyyy-MM-dd)", "2026-09"),
                ("year_week(yyyy-MM-dd,1)", "2026-09"),
                ("year_week(yyyy-MM-dd,7)", "2026-08"),
            ],
        );
    }

    // --- malformed time expressions ------------------------------------------------------

    #[test]
    fn malformed_time_expressions_are_errors_naming_them() {
        let e = malformed("echo $[foo]");
        assert!(matches!(&e, ParamError::MalformedTime { expr, .. } if expr == "foo"));
        assert!(e.to_string().contains("`$[foo]`"), "{e}");
        for bad in [
            "$[]",
            "$[   ]",
            "$[1+2]",
            "$[---]",
            "$[yyyyMMdd-1x]",
            "$[yyyyMMdd-1/0]",
            "$[yyyyMMdd-1/]",
            "$[yyyyQQ]",
            "$['unterminated yyyy]",
            "$[add_month(yyyyMMdd,1)]",
            "$[add_months(yyyyMMdd)]",
            "$[add_months(yyyyMMdd,x)]",
            "$[add_months(foo,1)]",
            "$[week_first_day(yyyy-MM-dd,1.5)]",
            "$[year_week(yyyy-MM-dd,8)]",
            "$[this_day()]",
            "$[this_day(yyyy-MM-dd,1)]",
            "$[year_week(yyyy-MM-dd,-1)]",
            "$[HH:mm+08:00]",
        ] {
            assert!(
                matches!(malformed(bad), ParamError::MalformedTime { .. }),
                "{bad}"
            );
        }
        let e = malformed("$[add_month(yyyyMMdd,1)]");
        assert!(
            e.to_string().contains("unknown function `add_month`"),
            "{e}"
        );
        let e = malformed("$[yyyyQQ]");
        assert!(e.to_string().contains("unknown pattern letter `Q`"), "{e}");
    }

    #[test]
    fn out_of_range_time_expressions_are_errors() {
        for bad in [
            "$[yyyyMMdd+99999999999]",
            "$[add_months(yyyyMMdd,99999999999)]",
            "$[week_first_day(yyyyMMdd,-9999999999999)]",
            "$[yyyyMMdd+9999999999999999999]",
            "$[yyyyMMdd+99999999999999999]",
        ] {
            let e = malformed(bad);
            assert!(
                matches!(
                    e,
                    ParamError::TimeOutOfRange { .. } | ParamError::MalformedTime { .. }
                ),
                "{bad}: {e:?}"
            );
        }
        assert!(matches!(
            malformed("$[yyyyMMdd+99999999999]"),
            ParamError::TimeOutOfRange { .. }
        ));
    }

    // --- expand: references --------------------------------------------------------------

    #[test]
    fn expand_known_names_and_time_in_one_text() {
        let p = map(&[("dt", "20260228"), ("region", "eu")]);
        assert_eq!(
            expand("load ${region} ${dt} at $[HH:mm] (${ dt })", &p, &base()).unwrap(),
            "load eu 20260228 at 02:30 (20260228)"
        );
    }

    #[test]
    fn expand_leaves_shell_syntax_alone() {
        let p = map(&[("dt", "20260228")]);
        for text in [
            "echo ${HOME}",
            "echo ${x:-default}",
            "echo ${#arr[@]}",
            "echo $HOME $1 $$ $? $(date) $",
            "echo ${}",
            "echo ${unterminated",
            "echo $[yyyyMMdd",
            "echo $[yyyy\n]",
            "cost: 5$",
        ] {
            assert_eq!(expand(text, &p, &base()).unwrap(), text);
        }
    }

    #[test]
    fn expand_scans_inside_unknown_references() {
        let p = map(&[("dt", "20260228")]);
        assert_eq!(
            expand("${x:-$[yyyyMMdd]} ${y:-${dt}}", &p, &base()).unwrap(),
            "${x:-20260301} ${y:-20260228}"
        );
    }

    #[test]
    fn expand_never_touches_the_set_value_marker() {
        let p = map(&[
            ("rows", "1"),
            ("setValue(rows=42)", "oops"),
            ("dt", "20260228"),
        ]);
        assert_eq!(
            expand("echo '${setValue(rows=42)}'", &p, &base()).unwrap(),
            "echo '${setValue(rows=42)}'"
        );
        // References inside it are expanded, so a task can pass a value on.
        assert_eq!(
            expand("echo '${setValue(d=${dt})}'", &p, &base()).unwrap(),
            "echo '${setValue(d=20260228)}'"
        );
    }

    #[test]
    fn expand_does_not_rescan_inserted_values() {
        let p = map(&[("a", "${b}"), ("b", "x"), ("t", "$[foo]"), ("s", "${s}")]);
        assert_eq!(
            expand("${a}${t}${s}", &p, &base()).unwrap(),
            "${b}$[foo]${s}"
        );
    }

    #[test]
    fn expand_reports_the_first_bad_expression() {
        let e = expand("$[yyyy] $[nope] $[zz]", &ParamMap::new(), &base()).unwrap_err();
        assert!(matches!(e, ParamError::MalformedTime { expr, .. } if expr == "nope"));
    }

    #[test]
    fn expand_multibyte_text() {
        assert_eq!(
            ex("日期 $[yyyyMMdd] ✓ ${ü}", &base()),
            "日期 20260301 ✓ ${ü}"
        );
    }

    // --- parse_set_value -----------------------------------------------------------------

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parse_set_value_forms() {
        assert_eq!(
            parse_set_value("${setValue(rows=42)}"),
            pairs(&[("rows", "42")])
        );
        assert_eq!(
            parse_set_value("a ${setValue(x=1)} b ${setValue( y = hello world )}c"),
            pairs(&[("x", "1"), ("y", "hello world")])
        );
        assert_eq!(
            parse_set_value("${setValue(url=a=b&c=d)}${setValue(q=x == y)}"),
            pairs(&[("url", "a=b&c=d"), ("q", "x == y")])
        );
        assert_eq!(
            parse_set_value("${setValue(f=g(1))}"),
            pairs(&[("f", "g(1)")])
        );
        assert_eq!(parse_set_value("${setValue(x=)}"), pairs(&[("x", "")]));
        assert_eq!(
            parse_set_value("${setValue(p=${HOME})}"),
            pairs(&[("p", "${HOME}")])
        );
    }

    #[test]
    fn parse_set_value_ignores_incomplete_markers() {
        assert!(parse_set_value("no markers here").is_empty());
        assert!(parse_set_value("${setValue(noeq)}").is_empty());
        assert!(parse_set_value("${setValue(=1)}").is_empty());
        assert!(parse_set_value("${setValue(  =1)}").is_empty());
        assert!(parse_set_value("${setValue(x=1").is_empty());
        assert!(parse_set_value("$setValue(x=1)").is_empty());
        assert_eq!(
            parse_set_value("${setValue(bad)} ${setValue(ok=1)} ${setValue(z=2"),
            pairs(&[("ok", "1")])
        );
    }

    // --- resolve -------------------------------------------------------------------------

    fn layers(present: [bool; 4]) -> ParamMap {
        let one = |on: bool, v: &str| {
            if on {
                map(&[("p", v)])
            } else {
                ParamMap::new()
            }
        };
        resolve(
            &base(),
            &one(present[0], "global"),
            &one(present[1], "startup"),
            &one(present[2], "upstream"),
            &one(present[3], "local"),
        )
        .unwrap()
    }

    #[test]
    fn resolve_precedence() {
        assert_eq!(layers([true, true, true, true])["p"], "local");
        assert_eq!(layers([true, true, true, false])["p"], "upstream");
        assert_eq!(layers([true, true, false, false])["p"], "startup");
        assert_eq!(layers([true, false, false, false])["p"], "global");
        assert_eq!(layers([false, false, true, true])["p"], "local");
        assert!(!layers([false; 4]).contains_key("p"));
        // A layer may override a built-in.
        let r = resolve(
            &base(),
            &map(&[(BIZ_DATE, "19990101")]),
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
        )
        .unwrap();
        assert_eq!(r[BIZ_DATE], "19990101");
        assert_eq!(r[BIZ_CURDATE], "20260301");
    }

    #[test]
    fn resolve_references_builtins_and_time() {
        let global = map(&[
            ("dt", "${system.biz.date}"),
            ("d", "$[yyyyMMdd-1]"),
            ("m", "$[add_months(yyyyMM,-1)]"),
            (
                "who",
                "${system.project.name}/${system.workflow.definition.name}",
            ),
            (
                "ids",
                "${system.workflow.instance.id}.${system.task.instance.id}",
            ),
        ]);
        let r = resolve(
            &base(),
            &global,
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
        )
        .unwrap();
        assert_eq!(r["dt"], "20260228");
        assert_eq!(r["d"], "20260228");
        assert_eq!(r["m"], "202602");
        assert_eq!(r["who"], "analytics/daily_sales");
        assert_eq!(r["ids"], "42.7");
    }

    #[test]
    fn resolve_higher_layers_see_lower_ones() {
        let global = map(&[("dt", "${system.biz.date}"), ("region", "eu")]);
        let startup = map(&[("region", "us"), ("dt", "${dt}_s")]);
        let upstream = map(&[("rows", "42")]);
        let local = map(&[
            ("path", "/data/${region}/${dt}"),
            ("q", "select ${rows}"),
            ("region", "${region}-1"),
        ]);
        let r = resolve(&base(), &global, &startup, &upstream, &local).unwrap();
        assert_eq!(r["dt"], "20260228_s");
        // `path` sees the local `region`, which itself built on the startup value.
        assert_eq!(r["region"], "us-1");
        assert_eq!(r["path"], "/data/us-1/20260228_s");
        assert_eq!(r["q"], "select 42");
    }

    #[test]
    fn resolve_orders_references_inside_one_layer() {
        // Key order is a, b, c; resolution order must be c, b, a.
        let local = map(&[
            ("a", "${b}-x"),
            ("b", "${c}"),
            ("c", "${system.biz.curdate}"),
        ]);
        let r = resolve(
            &base(),
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
            &local,
        )
        .unwrap();
        assert_eq!(r["a"], "20260301-x");
        assert_eq!(r["b"], "20260301");
    }

    #[test]
    fn resolve_self_reference_does_not_loop() {
        let local = map(&[("a", "${a}x"), ("b", "${b}")]);
        let r = resolve(
            &base(),
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
            &local,
        )
        .unwrap();
        assert_eq!(r["a"], "${a}x");
        assert_eq!(r["b"], "${b}");
        // With a lower value, the self reference reads it.
        let global = map(&[("a", "1")]);
        let r = resolve(&base(), &global, &ParamMap::new(), &ParamMap::new(), &local).unwrap();
        assert_eq!(r["a"], "1x");
    }

    #[test]
    fn resolve_mutual_reference_does_not_loop() {
        let local = map(&[("a", "${b}"), ("b", "${a}"), ("c", "${a}${b}")]);
        let r = resolve(
            &base(),
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
            &local,
        )
        .unwrap();
        assert_eq!(r["a"], "${a}");
        assert_eq!(r["b"], "${a}");
        assert_eq!(r["c"], "${a}${a}");
        // Three-cycle with a lower value for the entry point.
        let global = map(&[("a", "1")]);
        let local = map(&[("a", "${b}+"), ("b", "${c}+"), ("c", "${a}+")]);
        let r = resolve(&base(), &global, &ParamMap::new(), &ParamMap::new(), &local).unwrap();
        assert_eq!(r["c"], "1+");
        assert_eq!(r["b"], "1++");
        assert_eq!(r["a"], "1+++");
    }

    #[test]
    fn resolve_long_chain_does_not_overflow() {
        let n = 5000;
        let mut local = ParamMap::new();
        for i in 0..n {
            local.insert(format!("k{i:05}"), format!("${{k{:05}}}", i + 1));
        }
        local.insert(format!("k{n:05}"), "end".into());
        let r = resolve(
            &base(),
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
            &local,
        )
        .unwrap();
        assert_eq!(r["k00000"], "end");
    }

    #[test]
    fn resolve_takes_upstream_out_params_literally() {
        let upstream = map(&[("x", "$[foo] ${system.biz.date}")]);
        let r = resolve(
            &base(),
            &ParamMap::new(),
            &ParamMap::new(),
            &upstream,
            &ParamMap::new(),
        )
        .unwrap();
        assert_eq!(r["x"], "$[foo] ${system.biz.date}");
    }

    #[test]
    fn resolve_error_names_the_param() {
        let local = map(&[("ok", "1"), ("bad", "x $[foo]")]);
        let e = resolve(
            &base(),
            &ParamMap::new(),
            &ParamMap::new(),
            &ParamMap::new(),
            &local,
        )
        .unwrap_err();
        match &e {
            ParamError::InParam { name, error } => {
                assert_eq!(name, "bad");
                assert!(
                    matches!(**error, ParamError::MalformedTime { ref expr, .. } if expr == "foo")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("param `bad`") && msg.contains("`$[foo]`"),
            "{msg}"
        );
    }

    // --- properties ----------------------------------------------------------------------

    proptest! {
        #[test]
        fn expand_never_panics(text in any::<String>()) {
            let _ = expand(&text, &map(&[("a", "1")]), &base());
        }

        #[test]
        fn expand_never_panics_on_dense_syntax(
            text in "[$\\{\\}\\[\\]yMdHhmsEaDuSTQ0-9+\\-*/(),' _a-z\n]{0,48}"
        ) {
            let _ = expand(&text, &map(&[("a", "${a}"), ("b", "$[")]), &base());
        }

        #[test]
        fn text_without_dollar_is_unchanged(text in "[^$]*") {
            prop_assert_eq!(expand(&text, &map(&[("a", "1")]), &base()), Ok(text));
        }

        #[test]
        fn resolve_terminates_on_any_reference_graph(
            refs in proptest::collection::vec(proptest::collection::vec(0usize..6, 0..4), 6),
            lower in proptest::collection::vec(any::<bool>(), 6),
        ) {
            let local: ParamMap = refs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let v: String = r.iter().map(|j| format!("${{k{j}}}.")).collect();
                    (format!("k{i}"), v)
                })
                .collect();
            let global: ParamMap = lower
                .iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(i, _)| (format!("k{i}"), format!("g{i}")))
                .collect();
            let r = resolve(&base(), &global, &ParamMap::new(), &ParamMap::new(), &local);
            prop_assert!(r.is_ok());
        }

        #[test]
        fn set_value_round_trips(
            name in "[a-zA-Z_][a-zA-Z0-9_.]{0,12}",
            value in "[a-zA-Z0-9 =()/:,.-]{0,24}",
            before in "[^$]{0,8}",
        ) {
            let line = format!("{before}${{setValue({name}={value})}} tail");
            prop_assert_eq!(
                parse_set_value(&line),
                vec![(name.clone(), value.trim().to_string())]
            );
        }

        #[test]
        fn parse_set_value_never_panics(line in any::<String>()) {
            let _ = parse_set_value(&line);
        }
    }
}
