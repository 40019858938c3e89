//! The Gantt chart of an instance.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Class, Esc, Num, open_svg, safe_href, truncate};

/// One task instance in [`gantt_svg`].
#[derive(Debug, Clone, PartialEq)]
pub struct GanttBar {
    pub name: String,
    /// `TaskState::as_str`.
    pub state: String,
    /// `None`: never started (the row has a label and no bar).
    pub start: Option<DateTime<Utc>>,
    /// `None` while the task runs: the bar ends at `now`.
    pub end: Option<DateTime<Utc>>,
    pub href: Option<String>,
}

const GANTT_LABEL_W: f64 = 220.0;
const GANTT_CHART_W: f64 = 760.0;
const GANTT_RIGHT: f64 = 56.0;
const GANTT_AXIS_H: f64 = 44.0;
const GANTT_ROW_H: f64 = 22.0;
const GANTT_BAR_H: f64 = 14.0;
const GANTT_MIN_BAR: f64 = 2.0;
/// At most this many intervals between ticks.
const GANTT_MAX_TICKS: f64 = 8.0;

/// A Gantt chart: one row per task in the given order, each bar from start to end (to
/// `now` while open), under a time axis relative to the earliest start, whose absolute
/// time (UTC) heads the chart. Relative labels (`+1.5s`, `+2m`, `+3h30m`) read the same in
/// every time zone and at every span, from 1 ms to days.
pub fn gantt_svg(bars: &[GanttBar], now: DateTime<Utc>) -> String {
    // An end before the start counts as the start.
    let spans: Vec<Option<Span>> = bars
        .iter()
        .map(|b| {
            b.start.map(|start| match b.end {
                Some(end) => Span {
                    start,
                    end: end.max(start),
                    open: false,
                },
                None => Span {
                    start,
                    end: now.max(start),
                    open: true,
                },
            })
        })
        .collect();
    let t0 = spans.iter().flatten().map(|s| s.start).min();
    let t1 = spans.iter().flatten().map(|s| s.end).max();
    let span = match (t0, t1) {
        (Some(a), Some(b)) => millis(b - a),
        _ => 0.0,
    };
    let step = tick_step(span);
    let domain = ((span / step).ceil().max(1.0)) * step;
    let scale = GANTT_CHART_W / domain;

    let width = GANTT_LABEL_W + GANTT_CHART_W + GANTT_RIGHT;
    let height = GANTT_AXIS_H + GANTT_ROW_H * bars.len() as f64 + 8.0;
    let mut out = String::with_capacity(2048 + 400 * bars.len());
    open_svg(&mut out, "pgdag-gantt", width, height, "Task timeline");

    let header = match t0 {
        _ if bars.is_empty() => "no tasks".to_string(),
        None => "no task has started".to_string(),
        Some(t0) => format!(
            "from {} · {}",
            t0.format("%Y-%m-%d %H:%M:%S UTC"),
            fmt_millis(span)
        ),
    };
    w!(
        out,
        r##"<text class="gantt-header" x="8" y="16" fill="#374151">{}</text>"##,
        Esc(&header)
    );
    out.push('\n');

    out.push_str(r##"<g fill="#f3f4f6">"##);
    for i in (1..bars.len()).step_by(2) {
        w!(
            out,
            r#"<rect class="row-band" x="0" y="{}" width="{}" height="{}"/>"#,
            Num(GANTT_AXIS_H + GANTT_ROW_H * i as f64),
            Num(width),
            Num(GANTT_ROW_H)
        );
    }
    out.push_str("</g>\n");

    let x_of = |t: DateTime<Utc>| match t0 {
        Some(t0) => GANTT_LABEL_W + millis(t - t0) * scale,
        None => GANTT_LABEL_W,
    };
    if t0.is_some() {
        out.push_str(r##"<g class="ticks" font-size="11" fill="#6b7280" text-anchor="middle">"##);
        out.push('\n');
        let ticks = (domain / step).round() as usize;
        for i in 0..=ticks {
            let x = GANTT_LABEL_W + i as f64 * step * scale;
            w!(
                out,
                r##"<line class="tick" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#e5e7eb"/>"##,
                Num(GANTT_AXIS_H - 6.0),
                Num(height - 8.0),
                x = Num(x)
            );
            let label = if i == 0 {
                "0".to_string()
            } else {
                format!("+{}", fmt_millis(i as f64 * step))
            };
            w!(
                out,
                r#"<text class="tick-label" x="{}" y="{}">{}</text>"#,
                Num(x),
                Num(GANTT_AXIS_H - 10.0),
                label
            );
            out.push('\n');
        }
        out.push_str("</g>\n");
    }

    out.push_str(r##"<g class="rows" font-size="12" fill="#1f2937">"##);
    out.push('\n');
    for (i, (bar, span)) in bars.iter().zip(&spans).enumerate() {
        let top = GANTT_AXIS_H + GANTT_ROW_H * i as f64;
        let href = bar.href.as_deref().filter(|h| safe_href(h));
        match href {
            Some(h) => w!(out, r#"<a class="row" href="{}">"#, Esc(h)),
            None => out.push_str(r#"<g class="row">"#),
        }
        w!(out, "<title>{}\nstate: {}", Esc(&bar.name), Esc(&bar.state));
        match span {
            None => out.push_str("\nnot started"),
            Some(s) => {
                w!(out, "\nstart: {}", fmt_instant(s.start));
                if s.open {
                    w!(out, "\nend: (still open at {})", fmt_instant(now));
                } else {
                    w!(out, "\nend: {}", fmt_instant(s.end));
                }
                w!(out, "\nduration: {}", fmt_millis(millis(s.end - s.start)));
            }
        }
        out.push_str("</title>");
        w!(
            out,
            r#"<text class="row-label" x="8" y="{}">{}</text>"#,
            Num(top + 15.0),
            Esc(&truncate(&bar.name, GANTT_LABEL_W - 16.0, 12.0))
        );
        if let Some(s) = span {
            let x = x_of(s.start);
            let w = (x_of(s.end) - x).max(GANTT_MIN_BAR);
            w!(
                out,
                r##"<rect class="bar state-{}{}" x="{}" y="{}" width="{}" height="{}" rx="2" fill="#7aa2d6"/>"##,
                Class(&bar.state),
                if s.open { " bar-running" } else { "" },
                Num(x),
                Num(top + (GANTT_ROW_H - GANTT_BAR_H) / 2.0),
                Num(w),
                Num(GANTT_BAR_H)
            );
        }
        out.push_str(if href.is_some() { "</a>\n" } else { "</g>\n" });
    }
    out.push_str("</g>\n");

    if spans.iter().flatten().any(|s| s.open) {
        let x = x_of(now);
        w!(
            out,
            r##"<line class="now" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#d9534f" stroke-width="1"/>"##,
            Num(GANTT_AXIS_H - 6.0),
            Num(height - 8.0),
            x = Num(x)
        );
        out.push('\n');
    }
    out.push_str("</svg>\n");
    out
}

/// A started task's bar: `open` while it has no end (it then ends at `now`).
struct Span {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    open: bool,
}

/// Milliseconds in `d`, with microsecond precision (sub-millisecond bars exist).
fn millis(d: TimeDelta) -> f64 {
    match d.num_microseconds() {
        Some(us) => us as f64 / 1000.0,
        None => d.num_milliseconds() as f64,
    }
}

/// The tick interval for a span in ms: the smallest "round" duration that cuts the span
/// into at most `GANTT_MAX_TICKS` intervals.
fn tick_step(span_ms: f64) -> f64 {
    const S: f64 = 1000.0;
    const M: f64 = 60.0 * S;
    const H: f64 = 60.0 * M;
    const D: f64 = 24.0 * H;
    const STEPS: [f64; 33] = [
        1.0,
        2.0,
        5.0,
        10.0,
        20.0,
        50.0,
        100.0,
        200.0,
        500.0,
        S,
        2.0 * S,
        5.0 * S,
        10.0 * S,
        15.0 * S,
        30.0 * S,
        M,
        2.0 * M,
        5.0 * M,
        10.0 * M,
        15.0 * M,
        30.0 * M,
        H,
        2.0 * H,
        3.0 * H,
        6.0 * H,
        12.0 * H,
        D,
        2.0 * D,
        7.0 * D,
        14.0 * D,
        30.0 * D,
        90.0 * D,
        365.0 * D,
    ];
    let fits = |step: f64| span_ms / step <= GANTT_MAX_TICKS;
    if let Some(&step) = STEPS.iter().find(|&&s| fits(s)) {
        return step;
    }
    let mut step = 365.0 * D;
    while !fits(step) && step.is_finite() {
        step *= 2.0;
    }
    step
}

/// A duration in ms as a short label: `250ms`, `1.5s`, `2m`, `1m30s`, `3h30m`, `2d6h`.
fn fmt_millis(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 1000.0 {
        return if ms < 10.0 && ms.fract() != 0.0 {
            format!("{}ms", trim_decimals(ms, 1))
        } else {
            format!("{}ms", ms.round())
        };
    }
    if ms < 59_999.5 {
        return format!("{}s", trim_decimals(ms / 1000.0, 3));
    }
    let secs = (ms / 1000.0).round() as i64;
    if secs < 3600 {
        return with_rest(secs / 60, "m", secs % 60, "s");
    }
    let mins = (ms / 60_000.0).round() as i64;
    if mins < 24 * 60 {
        return with_rest(mins / 60, "h", mins % 60, "m");
    }
    let hours = (ms / 3_600_000.0).round() as i64;
    with_rest(hours / 24, "d", hours % 24, "h")
}

fn with_rest(big: i64, big_unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{rest}{rest_unit}")
    }
}

/// `v` with at most `places` decimals and no trailing zeros: 1.5, 2, 12.345.
fn trim_decimals(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn fmt_instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::svg::tests::{NASTY, attr_of, t, titles, well_formed};

    fn bar(name: &str, state: &str, start: Option<i64>, end: Option<i64>) -> GanttBar {
        GanttBar {
            name: name.into(),
            state: state.into(),
            start: start.map(t),
            end: end.map(t),
            href: None,
        }
    }

    #[test]
    fn gantt_bars_span_start_to_end_and_running_ends_at_now() {
        let now = t(10_000);
        let bars = vec![
            bar("a", "succeeded", Some(0), Some(2_000)),
            bar("b", "running", Some(2_000), None),
            bar("c", "pending", None, None),
        ];
        let svg = gantt_svg(&bars, now);
        well_formed(&svg).unwrap();
        let xs = attr_of(&svg, "bar", "x");
        let ws = attr_of(&svg, "bar", "width");
        assert_eq!(xs.len(), 2, "the unstarted task has no bar");
        // 10 s span: ticks every 2 s, domain 10 s over the chart width.
        let px = GANTT_CHART_W / 10_000.0;
        assert_eq!(xs[0], GANTT_LABEL_W);
        assert!((ws[0] - 2_000.0 * px).abs() < 0.06);
        assert!(
            (xs[1] + ws[1] - (GANTT_LABEL_W + 10_000.0 * px)).abs() < 0.11,
            "ends at now"
        );
        assert!(svg.contains(r#"class="bar state-running bar-running""#));
        assert!(svg.contains(r#"class="bar state-succeeded""#));
        assert_eq!(svg.matches("class=\"row-label\"").count(), 3);
        assert_eq!(
            attr_of(&svg, "now", "x1"),
            vec![GANTT_LABEL_W + GANTT_CHART_W]
        );
        let t = titles(&svg);
        assert!(t.contains(&"c\nstate: pending\nnot started".to_string()));
        assert!(t.iter().any(|t| t.starts_with("a\nstate: succeeded\nstart: 2026-05-12 14:00:00.000 UTC\nend: 2026-05-12 14:00:02.000 UTC\nduration: 2s")));
        assert!(
            t.iter()
                .any(|t| t.contains("still open at 2026-05-12 14:00:10.000 UTC")
                    && t.ends_with("duration: 8s"))
        );
        for label in [">0<", ">+2s<", ">+4s<", ">+10s<"] {
            assert!(svg.contains(label), "{label}");
        }
        assert!(svg.contains("from 2026-05-12 14:00:00 UTC · 10s"));
    }

    #[test]
    fn gantt_edge_cases() {
        let now = t(0);
        // Zero-length bars are still visible.
        let svg = gantt_svg(&[bar("z", "succeeded", Some(5), Some(5))], now);
        well_formed(&svg).unwrap();
        assert_eq!(attr_of(&svg, "bar", "width"), vec![GANTT_MIN_BAR]);
        // An end before the start, or a start after now, is clamped rather than negative.
        let svg = gantt_svg(
            &[
                bar("back", "failed", Some(500), Some(100)),
                bar("future", "running", Some(900), None),
            ],
            now,
        );
        well_formed(&svg).unwrap();
        assert!(
            attr_of(&svg, "bar", "width")
                .iter()
                .all(|&w| w >= GANTT_MIN_BAR)
        );
        // Nothing started, nothing at all.
        let svg = gantt_svg(&[bar("p", "pending", None, None)], now);
        well_formed(&svg).unwrap();
        assert!(!svg.contains("class=\"bar") && !svg.contains("class=\"tick\""));
        assert!(svg.contains("no task has started"));
        let svg = gantt_svg(&[], now);
        well_formed(&svg).unwrap();
        assert!(svg.contains("no tasks"));
    }

    #[test]
    fn gantt_ticks_fit_every_span() {
        for (span, step, last) in [
            (1, 1.0, "+1ms"),
            (0, 1.0, "+1ms"),
            (7, 1.0, "+7ms"),
            (1_500, 200.0, "+1.6s"),
            (3_000, 500.0, "+3s"),
            (150_000, 30_000.0, "+2m30s"),
            (2 * 3_600_000, 900_000.0, "+2h"),
            (2 * 3_600_000 + 5, 1_800_000.0, "+2h30m"),
            (3 * 86_400_000, 43_200_000.0, "+3d"),
            (400 * 86_400_000, 90.0 * 86_400_000.0, "+450d"),
        ] {
            let svg = gantt_svg(&[bar("x", "succeeded", Some(0), Some(span))], t(span));
            well_formed(&svg).unwrap();
            assert_eq!(tick_step(span as f64), step, "span {span}");
            let ticks = svg.matches("class=\"tick\"").count();
            assert!((2..=9).contains(&ticks), "span {span}: {ticks} ticks");
            let labels: Vec<&str> = svg
                .split("class=\"tick-label\"")
                .skip(1)
                .filter_map(|s| s.split('>').nth(1)?.split('<').next())
                .collect();
            assert_eq!(labels.last(), Some(&last), "span {span}: {labels:?}");
        }
    }

    #[test]
    fn durations_read_naturally() {
        for (ms, text) in [
            (0.0, "0ms"),
            (0.26, "0.3ms"),
            (250.0, "250ms"),
            (1_500.0, "1.5s"),
            (12_345.0, "12.345s"),
            (60_000.0, "1m"),
            (90_000.0, "1m30s"),
            (3_599_400.0, "59m59s"),
            (3_600_000.0, "1h"),
            (5_400_000.0, "1h30m"),
            (86_400_000.0, "1d"),
            (86_400_000.0 * 2.25, "2d6h"),
            (-5.0, "0ms"),
        ] {
            assert_eq!(fmt_millis(ms), text, "{ms}");
        }
    }

    #[test]
    fn gantt_with_hostile_names_and_many_rows() {
        let mut bars: Vec<GanttBar> = NASTY
            .iter()
            .enumerate()
            .map(|(i, n)| GanttBar {
                name: n.to_string(),
                state: n.to_string(),
                start: Some(t(i as i64)),
                end: None,
                href: Some(format!("/t/{n}")),
            })
            .collect();
        bars.extend((0..1000).map(|i| bar(&format!("t{i}"), "succeeded", Some(i), Some(i * 3))));
        let svg = gantt_svg(&bars, t(5_000));
        well_formed(&svg).unwrap();
        assert!(!svg.contains("<script"));
        assert_eq!(svg.matches("<rect class=\"bar ").count(), bars.len());
    }
}
