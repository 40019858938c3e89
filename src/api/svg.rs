//! SVG drawings for the web UI, rendered on the server as text: the DAG of a workflow or an
//! instance ([`dag_svg`]), the Gantt chart of an instance ([`gantt_svg`]), and the home
//! page's runs-per-day chart ([`runs_chart`]). Pure functions over plain data, no I/O.
//!
//! Why server-side SVG: the page needs no client-side layout library, htmx can swap a
//! fresh drawing in as a fragment, and the layout is tested here like any other pure code.
//!
//! Every user string (task names, types, states, tooltips, links) goes through one escaper
//! (`Esc`), which also replaces characters XML forbids, so a name like `<script>` or `a&b"`
//! can neither break the markup nor inject into the page. Links with a scheme other than
//! `http`/`https` (e.g. `javascript:`) are dropped.
//!
//! Styling: each element carries a class for the page's CSS, plus *presentation
//! attributes* (`fill="…"`) as a standalone fallback. Presentation attributes lose to any
//! CSS rule, so the page's `.state-running { fill: … }` wins without `!important`, and the
//! SVG still looks right opened on its own. No `<style>` element: one inside an inline
//! SVG applies to the whole page. Coordinates are rounded to 0.1 px to keep pages small.
//!
//! # Classes emitted
//!
//! - Everywhere: `state-<state>` on the `<rect>` that shows a state (`<state>` is the
//!   state's `as_str` word: `pending`, `running`, `forced_success`, ...; characters other
//!   than `[A-Za-z0-9_-]` become `_`). The rect itself carries the class because a fill
//!   set on a parent would not override the rect's own fallback attribute.
//! - [`dag_svg`]: root `pgdag-dag`; groups `edges`, `edges-success`, `edges-failure`,
//!   `edges-always`, `edge-labels`, `nodes`; `edge edge-success|edge-failure|edge-always`
//!   on each edge `<path>`; `edge-delay` on a delay label; `node` on each node's `<g>` or
//!   `<a>`; `node-box state-<state>` (or `state-none` when the state is unknown) on its
//!   rect; `node-name`, `node-type` on its texts. Arrowheads are markers
//!   `#pgdag-arrow-success|failure|always`.
//! - [`gantt_svg`]: root `pgdag-gantt`; `gantt-header`, `row-band` (every other row's
//!   background), `tick`, `tick-label`, `row` (each row's `<g>` or `<a>`), `row-label`,
//!   `bar state-<state>` (plus `bar-running` for a bar still open), `now` (the line at
//!   `now`, drawn when a bar is still open).
//! - [`runs_chart`]: root `pgdag-runs`; `day` (each day's `<g>`), `hit` (its transparent
//!   full-height rect, so empty days have a tooltip too), `state-succeeded`,
//!   `state-failed`, `state-other` (stacked in that order from the bottom), `day-label`,
//!   `chart-max`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use crate::dag::layout::{self, Point, Size};

/// Writes into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

// ---------------------------------------------------------------------------------------
// DAG

/// Size of a task box in the DAG drawing.
pub const NODE_W: f64 = 160.0;
pub const NODE_H: f64 = 40.0;
/// Horizontal padding inside a box, each side.
const NODE_PAD: f64 = 8.0;

/// One task in [`dag_svg`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DagNode {
    pub name: String,
    pub task_type: String,
    /// The task instance's state (`TaskState::as_str`), or `None` for a definition.
    pub state: Option<String>,
    pub href: Option<String>,
    /// Extra tooltip text (attempt, times...), shown after name, type and state.
    pub title: Option<String>,
}

/// One relation in [`dag_svg`]: indexes into the nodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DagEdge {
    pub from: usize,
    pub to: usize,
    /// `success`, `failure` or `always`; anything else is drawn as `success`.
    pub condition: String,
    /// Shown as a small label on the edge.
    pub delay: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum EdgeKind {
    Success,
    Failure,
    Always,
}

impl EdgeKind {
    const ALL: [EdgeKind; 3] = [EdgeKind::Success, EdgeKind::Failure, EdgeKind::Always];

    fn of(condition: &str) -> EdgeKind {
        match condition {
            "failure" => EdgeKind::Failure,
            "always" => EdgeKind::Always,
            _ => EdgeKind::Success,
        }
    }

    fn word(self) -> &'static str {
        match self {
            EdgeKind::Success => "success",
            EdgeKind::Failure => "failure",
            EdgeKind::Always => "always",
        }
    }

    fn color(self) -> &'static str {
        match self {
            EdgeKind::Success => "#6b7280",
            EdgeKind::Failure => "#d9534f",
            EdgeKind::Always => "#a0a4ab",
        }
    }

    /// Extra stroke attributes: failure dashed, always dotted.
    fn dash(self) -> &'static str {
        match self {
            EdgeKind::Success => "",
            EdgeKind::Failure => r#" stroke-dasharray="6 4""#,
            EdgeKind::Always => r#" stroke-dasharray="0.1 4" stroke-linecap="round""#,
        }
    }
}

/// The DAG as an SVG document, laid out left to right by [`layout::layered`], at its
/// natural size (1 unit = 1 px; the `viewBox` lets the page scale it). Edges naming a
/// node out of range, and self-loops, are not drawn. See the module comment for classes.
pub fn dag_svg(nodes: &[DagNode], edges: &[DagEdge]) -> String {
    let pairs: Vec<(usize, usize)> = edges.iter().map(|e| (e.from, e.to)).collect();
    let l = layout::layered(nodes.len(), &pairs, |_| Size::new(NODE_W, NODE_H));
    let mut out = String::with_capacity(1024 + 420 * nodes.len() + 220 * edges.len());
    open_svg(&mut out, "pgdag-dag", l.width, l.height, "Workflow graph");

    out.push_str("<defs>");
    for kind in EdgeKind::ALL {
        w!(
            out,
            r#"<marker id="pgdag-arrow-{}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" fill="{}"/></marker>"#,
            kind.word(),
            kind.color()
        );
    }
    out.push_str("</defs>\n");

    let name = |i: usize| nodes.get(i).map_or("?", |n| n.name.as_str());
    out.push_str("<g class=\"edges\">\n");
    for kind in EdgeKind::ALL {
        w!(
            out,
            r#"<g class="edges-{k}" fill="none" stroke="{c}" stroke-width="1.5"{d} marker-end="url(#pgdag-arrow-{k})">"#,
            k = kind.word(),
            c = kind.color(),
            d = kind.dash()
        );
        out.push('\n');
        for (e, edge) in edges.iter().enumerate() {
            let route = &l.edges[e];
            if route.len() < 2 || EdgeKind::of(&edge.condition) != kind {
                continue;
            }
            w!(out, r#"<path class="edge edge-{}" d=""#, kind.word());
            smooth_path(&mut out, route);
            w!(
                out,
                "\"><title>{} → {}",
                Esc(name(edge.from)),
                Esc(name(edge.to))
            );
            if kind != EdgeKind::Success {
                w!(out, " (on {})", kind.word());
            }
            if let Some(delay) = &edge.delay {
                w!(out, ", delay {}", Esc(delay));
            }
            out.push_str("</title></path>\n");
        }
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n");

    // Delay labels on top of every edge, with a white halo so crossings stay readable.
    out.push_str(r##"<g class="edge-labels" font-size="10" fill="#4b5563" text-anchor="middle" stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke">"##);
    out.push('\n');
    for (e, edge) in edges.iter().enumerate() {
        let (Some(delay), route) = (&edge.delay, &l.edges[e]) else {
            continue;
        };
        if route.len() < 2 {
            continue;
        }
        let at = midpoint(route);
        w!(
            out,
            r#"<text class="edge-delay" x="{}" y="{}">{}</text>"#,
            Num(at.x),
            Num(at.y - 4.0),
            Esc(&truncate(delay, LAYER_LABEL_W, 10.0))
        );
        out.push('\n');
    }
    out.push_str("</g>\n");

    out.push_str(r##"<g class="nodes" text-anchor="middle" fill="#1f2937">"##);
    out.push('\n');
    for (node, r) in nodes.iter().zip(&l.nodes) {
        let href = node.href.as_deref().filter(|h| safe_href(h));
        match href {
            Some(h) => w!(out, r#"<a class="node" href="{}">"#, Esc(h)),
            None => out.push_str(r#"<g class="node">"#),
        }
        w!(
            out,
            "<title>{}\ntype: {}",
            Esc(&node.name),
            Esc(&node.task_type)
        );
        if let Some(state) = &node.state {
            w!(out, "\nstate: {}", Esc(state));
        }
        if let Some(title) = &node.title {
            w!(out, "\n{}", Esc(title));
        }
        out.push_str("</title>");
        w!(
            out,
            r##"<rect class="node-box state-{}" x="{}" y="{}" width="{}" height="{}" rx="6" fill="#f9fafb" stroke="#9ca3af"/>"##,
            Class(node.state.as_deref().unwrap_or("none")),
            Num(r.x),
            Num(r.y),
            Num(r.w),
            Num(r.h)
        );
        let cx = r.x + r.w / 2.0;
        let inner = r.w - 2.0 * NODE_PAD;
        w!(
            out,
            r#"<text class="node-name" x="{}" y="{}" font-size="13">{}</text>"#,
            Num(cx),
            Num(r.y + 17.0),
            Esc(&truncate(&node.name, inner, 13.0))
        );
        // The state in words too, not only as a color.
        let small = match &node.state {
            Some(state) => format!("{} · {}", node.task_type, state),
            None => node.task_type.clone(),
        };
        w!(
            out,
            r##"<text class="node-type" x="{}" y="{}" font-size="10" fill="#6b7280">{}</text>"##,
            Num(cx),
            Num(r.y + 32.0),
            Esc(&truncate(&small, inner, 10.0))
        );
        out.push_str(if href.is_some() { "</a>\n" } else { "</g>\n" });
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// Widest delay label, in px (the gap between two columns).
const LAYER_LABEL_W: f64 = layout::LAYER_GAP + 40.0;

/// Path data through `pts`: one cubic Bézier per leg with horizontal tangents at both ends
/// (the classic left-to-right "S" edge), and straight lines for horizontal legs (lanes
/// through a column). Tangents are horizontal at every point, so the curve is smooth.
fn smooth_path(out: &mut String, pts: &[Point]) {
    let Some(first) = pts.first() else {
        return;
    };
    w!(out, "M{} {}", Num(first.x), Num(first.y));
    for leg in pts.windows(2) {
        let (p, q) = (leg[0], leg[1]);
        if p.y == q.y {
            w!(out, "H{}", Num(q.x));
        } else {
            let dx = (q.x - p.x) / 2.0;
            w!(
                out,
                "C{} {} {} {} {} {}",
                Num(p.x + dx),
                Num(p.y),
                Num(q.x - dx),
                Num(q.y),
                Num(q.x),
                Num(q.y)
            );
        }
    }
}

/// The middle of the leg halfway along the route: by symmetry of the "S" curve, a point
/// that lies on the drawn path.
fn midpoint(pts: &[Point]) -> Point {
    let len = |a: &Point, b: &Point| (b.x - a.x).hypot(b.y - a.y);
    let total: f64 = pts.windows(2).map(|w| len(&w[0], &w[1])).sum();
    let mut walked = 0.0;
    for w in pts.windows(2) {
        let leg = len(&w[0], &w[1]);
        if walked + leg >= total / 2.0 {
            return Point {
                x: (w[0].x + w[1].x) / 2.0,
                y: (w[0].y + w[1].y) / 2.0,
            };
        }
        walked += leg;
    }
    pts.first().copied().unwrap_or(Point { x: 0.0, y: 0.0 })
}

// ---------------------------------------------------------------------------------------
// Gantt

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

// ---------------------------------------------------------------------------------------
// Runs per day

/// Runs of one day, by outcome, for [`runs_chart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub succeeded: i64,
    pub failed: i64,
    /// Every other outcome (running, stopped...).
    pub other: i64,
}

/// Days drawn by [`runs_chart`].
pub const RUNS_DAYS: usize = 14;
const RUNS_SLOT: f64 = 22.0;
const RUNS_BAR: f64 = 14.0;
const RUNS_PLOT_H: f64 = 60.0;
const RUNS_TOP: f64 = 16.0;
const RUNS_BOTTOM: f64 = 16.0;
const RUNS_SIDE: f64 = 4.0;

/// A small stacked bar chart of runs per day, oldest on the left, for the home page. The
/// last [`RUNS_DAYS`] days up to the newest day given are drawn; days missing in between
/// count as zero (so pass "today" with zeros to end the chart today), a day given twice
/// counts once with the sums, and negative counts count as zero.
pub fn runs_chart(days: &[DayCount]) -> String {
    let mut sorted: Vec<DayCount> = days.to_vec();
    sorted.sort_by_key(|d| d.day);
    let mut merged: Vec<DayCount> = Vec::with_capacity(RUNS_DAYS);
    if let Some(last) = sorted.last().map(|d| d.day) {
        let first = last
            .checked_sub_days(chrono::Days::new(RUNS_DAYS as u64 - 1))
            .unwrap_or(NaiveDate::MIN);
        let mut day = sorted[0].day.max(first);
        while day <= last {
            merged.push(DayCount {
                day,
                succeeded: 0,
                failed: 0,
                other: 0,
            });
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        for d in &sorted {
            if let Some(slot) = merged.iter_mut().find(|m| m.day == d.day) {
                slot.succeeded = slot.succeeded.saturating_add(d.succeeded.max(0));
                slot.failed = slot.failed.saturating_add(d.failed.max(0));
                slot.other = slot.other.saturating_add(d.other.max(0));
            }
        }
    }
    let total = |d: &DayCount| d.succeeded.saturating_add(d.failed).saturating_add(d.other);
    let max = merged.iter().map(total).max().unwrap_or(0);

    let width = 2.0 * RUNS_SIDE + RUNS_SLOT * merged.len().max(1) as f64;
    let height = RUNS_TOP + RUNS_PLOT_H + RUNS_BOTTOM;
    let mut out = String::with_capacity(512 + 600 * merged.len());
    open_svg(&mut out, "pgdag-runs", width, height, "Runs per day");
    let base = RUNS_TOP + RUNS_PLOT_H;
    w!(
        out,
        r##"<line x1="0" y1="{b}" x2="{}" y2="{b}" stroke="#d1d5db"/>"##,
        Num(width),
        b = Num(base)
    );
    w!(
        out,
        r##"<text class="chart-max" x="{}" y="11" font-size="9" fill="#6b7280" text-anchor="end">max {}</text>"##,
        Num(width - RUNS_SIDE),
        max
    );
    out.push('\n');
    for (i, d) in merged.iter().enumerate() {
        let slot_x = RUNS_SIDE + RUNS_SLOT * i as f64;
        let x = slot_x + (RUNS_SLOT - RUNS_BAR) / 2.0;
        w!(
            out,
            "<g class=\"day\"><title>{} {}: {} succeeded, {} failed, {} other</title>",
            d.day.format("%a"),
            d.day,
            d.succeeded.max(0),
            d.failed.max(0),
            d.other.max(0)
        );
        w!(
            out,
            r##"<rect class="hit" x="{}" y="0" width="{}" height="{}" fill="#fff" fill-opacity="0"/>"##,
            Num(slot_x),
            Num(RUNS_SLOT),
            Num(height)
        );
        let mut top = base;
        for (count, class, fallback) in [
            (d.succeeded, "state-succeeded", "#5cb85c"),
            (d.failed, "state-failed", "#d9534f"),
            (d.other, "state-other", "#9ca3af"),
        ] {
            if count <= 0 || max <= 0 {
                continue;
            }
            // At least 1 px, so a single failure among hundreds of runs still shows.
            let h = (count as f64 / max as f64 * RUNS_PLOT_H).max(1.0);
            top -= h;
            w!(
                out,
                r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}" fill="{fallback}"/>"#,
                Num(x),
                Num(top),
                Num(RUNS_BAR),
                Num(h)
            );
        }
        w!(
            out,
            r##"<text class="day-label" x="{}" y="{}" font-size="9" fill="#6b7280" text-anchor="middle">{}</text></g>"##,
            Num(slot_x + RUNS_SLOT / 2.0),
            Num(base + 12.0),
            d.day.day()
        );
        out.push('\n');
    }
    out.push_str("</svg>\n");
    out
}

// ---------------------------------------------------------------------------------------
// Shared helpers

fn open_svg(out: &mut String, class: &str, width: f64, height: f64, label: &str) {
    w!(
        out,
        r#"<svg xmlns="{SVG_NS}" class="{class}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" font-size="12" role="img" aria-label="{label}">"#,
        w = Num(width),
        h = Num(height)
    );
    out.push('\n');
}

/// Links are built by our own handlers; still, refuse `javascript:` and other schemes
/// rather than trust that forever.
fn safe_href(href: &str) -> bool {
    let head = href.split(['/', '?', '#']).next().unwrap_or("");
    match head.split_once(':') {
        None => true,
        Some((scheme, _)) => {
            scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
        }
    }
}

/// XML-escapes a string for text or a double- or single-quoted attribute, and replaces
/// the characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) with U+FFFD.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut from = 0;
        for (i, c) in s.char_indices() {
            let rep = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' => "\u{FFFD}",
                '\u{FFFE}' | '\u{FFFF}' => "\u{FFFD}",
                _ => continue,
            };
            f.write_str(&s[from..i])?;
            f.write_str(rep)?;
            from = i + c.len_utf8();
        }
        f.write_str(&s[from..])
    }
}

/// A number rounded to 0.1, without a trailing `.0` or a `-0`.
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() {
            (self.0 * 10.0).round() / 10.0
        } else {
            0.0
        };
        if v == 0.0 {
            f.write_str("0")
        } else if v.fract() == 0.0 {
            write!(f, "{v:.0}")
        } else {
            write!(f, "{v:.1}")
        }
    }
}

/// A class-name fragment: `[A-Za-z0-9_-]` kept, anything else `_`.
struct Class<'a>(&'a str);

impl fmt::Display for Class<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for c in self.0.chars() {
            let safe = c.is_ascii_alphanumeric() || c == '_' || c == '-';
            f.write_char(if safe { c } else { '_' })?;
        }
        Ok(())
    }
}

/// Approximate advance of `c` in em for a sans-serif UI font. Good enough to decide where
/// to cut a name: the full name is always in the tooltip.
fn char_em(c: char) -> f64 {
    match c {
        'i' | 'j' | 'l' | 'I' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' => 0.3,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' => 0.4,
        'm' | 'w' | 'M' | 'W' | '@' => 0.9,
        'A'..='Z' => 0.68,
        '\u{1100}'..='\u{115F}'
        | '\u{2E80}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7A3}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FF60}'
        | '\u{FFE0}'..='\u{FFE6}'
        | '\u{1F300}'..='\u{1FAFF}'
        | '\u{20000}'..='\u{3FFFD}' => 1.0,
        _ => 0.56,
    }
}

/// `s` cut to fit `max_px` at `font_px`, ending in `…` when cut.
fn truncate(s: &str, max_px: f64, font_px: f64) -> Cow<'_, str> {
    let budget = max_px / font_px;
    let total: f64 = s.chars().map(char_em).sum();
    if total <= budget {
        return Cow::Borrowed(s);
    }
    let ellipsis = 0.9;
    let mut used = 0.0;
    let mut cut = 0;
    for (i, c) in s.char_indices() {
        let w = char_em(c);
        if used + w + ellipsis > budget {
            break;
        }
        used += w;
        cut = i + c.len_utf8();
    }
    Cow::Owned(format!("{}…", s[..cut].trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// A small XML well-formedness checker: balanced tags, quoted attributes without raw
    /// `<`, `&` only in known entities, no forbidden characters, one root `<svg>`.
    fn well_formed(xml: &str) -> Result<(), String> {
        fn entities(text: &str) -> Result<(), String> {
            if let Some(c) = text
                .chars()
                .find(|&c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}')
            {
                return Err(format!("forbidden character {c:?}"));
            }
            let mut rest = text;
            while let Some(i) = rest.find('&') {
                rest = &rest[i + 1..];
                let end = rest.find(';').ok_or("& without ;")?;
                let name = &rest[..end];
                let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                    || name
                        .strip_prefix('#')
                        .is_some_and(|n| n.parse::<u32>().is_ok());
                if !ok {
                    return Err(format!("bad entity &{name};"));
                }
            }
            Ok(())
        }
        let mut stack: Vec<&str> = Vec::new();
        let mut roots = 0;
        let mut rest = xml;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            if text.contains('>') {
                return Err(format!("raw > in text {text:?}"));
            }
            entities(text)?;
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            rest = &rest[i + 1..];
            let end = rest.find('>').ok_or("unclosed tag")?;
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name => continue,
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            }
            let (body, closed) = match tag.strip_suffix('/') {
                Some(body) => (body, true),
                None => (tag, false),
            };
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = &body[..name_end];
            let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '_'));
            if !valid_name {
                return Err(format!("bad tag name {name:?} in <{tag}>"));
            }
            let mut attrs = body[name_end..].trim_start();
            let mut seen = Vec::new();
            while !attrs.is_empty() {
                let eq = attrs
                    .find('=')
                    .ok_or(format!("attribute without = in <{tag}>"))?;
                let attr = attrs[..eq].trim();
                if attr.is_empty() || attr.contains(char::is_whitespace) || seen.contains(&attr) {
                    return Err(format!("bad or repeated attribute {attr:?} in <{tag}>"));
                }
                seen.push(attr);
                let value = attrs[eq + 1..]
                    .strip_prefix('"')
                    .ok_or(format!("unquoted {attr}"))?;
                let close = value.find('"').ok_or("unterminated value")?;
                if value[..close].contains('<') {
                    return Err(format!("raw < in {attr}"));
                }
                entities(&value[..close])?;
                attrs = value[close + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
                if name != "svg" {
                    return Err(format!("root is <{name}>"));
                }
            }
            if !closed {
                stack.push(name);
            }
        }
        if !rest.trim().is_empty() {
            return Err(format!("text after the root: {rest:?}"));
        }
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} roots"));
        }
        Ok(())
    }

    /// The unescaped text of every `<title>`.
    fn titles(svg: &str) -> Vec<String> {
        svg.split("<title>")
            .skip(1)
            .filter_map(|s| s.split("</title>").next())
            .map(unescape)
            .collect()
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    /// Every value of attribute `attr` on elements whose class list contains `class`.
    fn attr_of(svg: &str, class: &str, attr: &str) -> Vec<f64> {
        svg.split('<')
            .filter(|tag| {
                tag.split("class=\"")
                    .nth(1)
                    .and_then(|c| c.split('"').next())
                    .is_some_and(|c| c.split(' ').any(|k| k == class))
            })
            .filter_map(|tag| {
                let v = tag
                    .split(&format!(" {attr}=\""))
                    .nth(1)?
                    .split('"')
                    .next()?;
                v.parse().ok()
            })
            .collect()
    }

    fn node(name: &str, state: Option<&str>) -> DagNode {
        DagNode {
            name: name.into(),
            task_type: "shell".into(),
            state: state.map(Into::into),
            ..DagNode::default()
        }
    }

    fn edge(from: usize, to: usize, condition: &str) -> DagEdge {
        DagEdge {
            from,
            to,
            condition: condition.into(),
            delay: None,
        }
    }

    const NASTY: [&str; 6] = [
        "<script>alert(1)</script>",
        "a & b",
        "say \"hi\" 'there'",
        "]]><!--",
        "ctl\u{1}\u{1b}char\u{FFFF}",
        "",
    ];

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 12, 14, 0, 0).unwrap() + TimeDelta::milliseconds(ms)
    }

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
    fn the_checker_catches_what_it_should() {
        assert!(well_formed("<svg><g/></svg>").is_ok());
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg>a & b</svg>").is_err());
        assert!(well_formed("<svg a=\"<\"/>").is_err());
        assert!(well_formed("<svg a=\"1\" a=\"2\"/>").is_err());
        assert!(well_formed("<svg/><svg/>").is_err());
        assert!(well_formed("<svg>\u{1}</svg>").is_err());
    }

    #[test]
    fn escaping_covers_markup_quotes_and_forbidden_characters() {
        assert_eq!(
            Esc("<a href='x'>\"&\"</a>").to_string(),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(
            Esc("a\u{0}b\u{FFFE}\tc\nd").to_string(),
            "a\u{FFFD}b\u{FFFD}\tc\nd"
        );
        assert_eq!(Esc("plain ünïcødé 名前").to_string(), "plain ünïcødé 名前");
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        let s = |v: f64| Num(v).to_string();
        assert_eq!(s(12.0), "12");
        assert_eq!(s(12.345), "12.3");
        assert_eq!(s(-0.04), "0");
        assert_eq!(s(-3.25), "-3.3");
        assert_eq!(s(f64::NAN), "0");
        assert_eq!(s(1e9 + 0.06), "1000000000.1");
    }

    #[test]
    fn class_fragments_are_sanitized() {
        assert_eq!(Class("forced_success").to_string(), "forced_success");
        assert_eq!(Class("a b\"<c").to_string(), "a_b__c");
        assert_eq!(Class("").to_string(), "none");
    }

    #[test]
    fn long_names_are_cut_with_an_ellipsis() {
        assert_eq!(truncate("short", 144.0, 13.0), "short");
        let long = "x".repeat(60);
        let cut = truncate(&long, 144.0, 13.0);
        assert!(cut.ends_with('…') && cut.chars().count() < 25, "{cut}");
        // Wide characters count double and multi-byte text is cut on a character boundary.
        let wide = "名前".repeat(20);
        let cut = truncate(&wide, 144.0, 13.0);
        assert!(cut.ends_with('…') && cut.chars().count() <= 11, "{cut}");
        assert_eq!(truncate("", 10.0, 13.0), "");
    }

    #[test]
    fn only_web_links_are_kept() {
        for ok in [
            "/ui/task/1",
            "task?id=1",
            "https://x/y",
            "HTTP://x",
            "a/b:c",
            "#n",
        ] {
            assert!(safe_href(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:x",
            "data:text/html,x",
            "vbscript:x",
        ] {
            assert!(!safe_href(bad), "{bad}");
        }
    }

    #[test]
    fn dag_nodes_carry_state_classes_titles_and_links() {
        let mut nodes = vec![
            node("extract", Some("succeeded")),
            node("load", Some("running")),
            node("report", None),
        ];
        nodes[1].href = Some("/ui/tasks/2?x=1&y=2".into());
        nodes[1].title = Some("attempt 2".into());
        let svg = dag_svg(&nodes, &[edge(0, 1, "success"), edge(1, 2, "success")]);
        well_formed(&svg).unwrap();
        assert!(svg.contains(r#"class="node-box state-succeeded""#));
        assert!(svg.contains(r#"class="node-box state-running""#));
        assert!(svg.contains(r#"class="node-box state-none""#));
        assert!(svg.contains(r#"<a class="node" href="/ui/tasks/2?x=1&amp;y=2">"#));
        assert_eq!(svg.matches("<a ").count(), 1);
        let t = titles(&svg);
        assert!(t.contains(&"load\ntype: shell\nstate: running\nattempt 2".to_string()));
        assert!(t.contains(&"report\ntype: shell".to_string()));
        assert!(t.contains(&"extract → load".to_string()));
        assert!(svg.contains(">shell · running</text>"));
    }

    #[test]
    fn dag_size_follows_the_layout() {
        let nodes: Vec<DagNode> = (0..3).map(|i| node(&format!("t{i}"), None)).collect();
        let svg = dag_svg(&nodes, &[edge(0, 1, "success"), edge(1, 2, "success")]);
        let l = layout::layered(3, &[(0, 1), (1, 2)], |_| Size::new(NODE_W, NODE_H));
        let (w, h) = (Num(l.width).to_string(), Num(l.height).to_string());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"pgdag-dag\""));
        assert!(svg.contains(&format!(
            r#"width="{w}" height="{h}" viewBox="0 0 {w} {h}""#
        )));
        assert_eq!(attr_of(&svg, "node-box", "width"), vec![NODE_W; 3]);
    }

    #[test]
    fn dag_edges_are_styled_by_condition() {
        let nodes: Vec<DagNode> = (0..4).map(|i| node(&format!("t{i}"), None)).collect();
        let mut edges = vec![
            edge(0, 1, "success"),
            edge(0, 2, "failure"),
            edge(0, 3, "always"),
            edge(1, 3, "bogus"),
        ];
        edges[1].delay = Some("5m".into());
        let svg = dag_svg(&nodes, &edges);
        well_formed(&svg).unwrap();
        assert_eq!(svg.matches(r#"class="edge edge-success""#).count(), 2);
        assert_eq!(svg.matches(r#"class="edge edge-failure""#).count(), 1);
        assert_eq!(svg.matches(r#"class="edge edge-always""#).count(), 1);
        let group = |k: &str| {
            svg.split(&format!("<g class=\"edges-{k}\""))
                .nth(1)
                .and_then(|s| s.split('>').next())
                .unwrap_or("")
                .to_string()
        };
        assert!(
            group("failure")
                .contains(r##"stroke="#d9534f" stroke-width="1.5" stroke-dasharray="6 4""##)
        );
        assert!(group("always").contains("stroke-dasharray=\"0.1 4\" stroke-linecap=\"round\""));
        assert!(!group("success").contains("dasharray"));
        assert!(group("success").contains("marker-end=\"url(#pgdag-arrow-success)\""));
        assert!(svg.contains(">5m</text>"));
        assert!(titles(&svg).contains(&"t0 → t2 (on failure), delay 5m".to_string()));
        // Curves: edges into the lower nodes are cubic Béziers.
        let curves = svg
            .split(" d=\"M")
            .skip(1)
            .filter(|d| d.split('"').next().is_some_and(|d| d.contains('C')))
            .count();
        assert!(curves >= 2, "{svg}");
    }

    #[test]
    fn dag_skips_edges_it_cannot_draw() {
        let nodes = vec![node("a", None), node("b", None)];
        let svg = dag_svg(&nodes, &[edge(0, 9, "success"), edge(1, 1, "success")]);
        well_formed(&svg).unwrap();
        assert_eq!(svg.matches("<path class=\"edge").count(), 0);
        let empty = dag_svg(&[], &[edge(0, 1, "success")]);
        well_formed(&empty).unwrap();
    }

    #[test]
    fn dag_with_hostile_names_stays_well_formed() {
        let nodes: Vec<DagNode> = NASTY
            .iter()
            .map(|n| DagNode {
                name: n.to_string(),
                task_type: n.to_string(),
                state: Some(n.to_string()),
                href: Some(format!("/x?{n}")),
                title: Some(n.to_string()),
            })
            .collect();
        let edges: Vec<DagEdge> = (1..nodes.len())
            .map(|i| DagEdge {
                from: 0,
                to: i,
                condition: NASTY[i].to_string(),
                delay: Some(NASTY[i].to_string()),
            })
            .collect();
        let svg = dag_svg(&nodes, &edges);
        well_formed(&svg).unwrap();
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("<!--"));
        assert!(
            titles(&svg)
                .iter()
                .any(|t| t.starts_with("<script>alert(1)</script>\n"))
        );
    }

    #[test]
    fn a_big_dag_renders() {
        let n = 250;
        let nodes: Vec<DagNode> = (0..n)
            .map(|i| node(&format!("task_{i}"), Some("queued")))
            .collect();
        let edges: Vec<DagEdge> = (1..n)
            .flat_map(|i| [edge(i / 2, i, "success"), edge(i / 3, i, "always")])
            .collect();
        let svg = dag_svg(&nodes, &edges);
        well_formed(&svg).unwrap();
        assert_eq!(svg.matches("<rect class=\"node-box").count(), n);
        assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    }

    #[test]
    fn path_data_is_smooth_and_compact() {
        let mut d = String::new();
        smooth_path(
            &mut d,
            &[
                Point { x: 0.0, y: 10.0 },
                Point { x: 40.0, y: 50.0 },
                Point { x: 200.0, y: 50.0 },
            ],
        );
        assert_eq!(d, "M0 10C20 10 20 50 40 50H200");
        let m = midpoint(&[Point { x: 0.0, y: 0.0 }, Point { x: 10.0, y: 20.0 }]);
        assert_eq!((m.x, m.y), (5.0, 10.0));
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

    fn day(d: u32, s: i64, f: i64, o: i64) -> DayCount {
        DayCount {
            day: NaiveDate::from_ymd_opt(2026, 5, d).unwrap(),
            succeeded: s,
            failed: f,
            other: o,
        }
    }

    #[test]
    fn runs_chart_stacks_fourteen_days() {
        let days: Vec<DayCount> = (1..=20).map(|d| day(d, d as i64, 1, 0)).collect();
        let svg = runs_chart(&days);
        well_formed(&svg).unwrap();
        assert_eq!(svg.matches("<g class=\"day\">").count(), RUNS_DAYS);
        let t = titles(&svg);
        assert_eq!(
            t.first().map(String::as_str),
            Some("Thu 2026-05-07: 7 succeeded, 1 failed, 0 other")
        );
        assert_eq!(
            t.last().map(String::as_str),
            Some("Wed 2026-05-20: 20 succeeded, 1 failed, 0 other")
        );
        assert!(svg.contains(">max 21<"));
        // The tallest stack fills the plot; the failed segment sits on the succeeded one.
        let s = attr_of(&svg, "state-succeeded", "height");
        let f = attr_of(&svg, "state-failed", "height");
        assert!((s[13] + f[13] - RUNS_PLOT_H).abs() < 0.11);
        let sy = attr_of(&svg, "state-succeeded", "y");
        let fy = attr_of(&svg, "state-failed", "y");
        assert!((fy[13] + f[13] - sy[13]).abs() < 0.11);
        assert!(
            svg.contains(">20</text></g>"),
            "day labels are days of the month"
        );
    }

    #[test]
    fn runs_chart_fills_gaps_merges_and_clamps() {
        let svg = runs_chart(&[day(3, 1, 0, 0), day(1, 2, -5, 1), day(3, 1, 2, 0)]);
        well_formed(&svg).unwrap();
        assert_eq!(
            titles(&svg),
            vec![
                "Fri 2026-05-01: 2 succeeded, 0 failed, 1 other",
                "Sat 2026-05-02: 0 succeeded, 0 failed, 0 other",
                "Sun 2026-05-03: 2 succeeded, 2 failed, 0 other",
            ]
        );
        assert_eq!(
            svg.matches("class=\"hit\"").count(),
            3,
            "empty days have a tooltip too"
        );
        // One run among many still shows as 1 px.
        let svg = runs_chart(&[day(1, 1000, 1, 0)]);
        assert_eq!(attr_of(&svg, "state-failed", "height"), vec![1.0]);
        // Nothing at all.
        let svg = runs_chart(&[]);
        well_formed(&svg).unwrap();
        assert!(svg.contains(">max 0<"));
        let svg = runs_chart(&[day(4, 0, 0, 0)]);
        well_formed(&svg).unwrap();
        assert!(!svg.contains("state-"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn any_text_renders_well_formed(
            names in proptest::collection::vec(any::<String>(), 1..8),
            extra in any::<String>(),
        ) {
            let nodes: Vec<DagNode> = names
                .iter()
                .map(|n| DagNode {
                    name: n.clone(),
                    task_type: extra.clone(),
                    state: Some(n.clone()),
                    href: Some(n.clone()),
                    title: Some(extra.clone()),
                })
                .collect();
            let edges: Vec<DagEdge> = (1..nodes.len())
                .map(|i| DagEdge { from: i - 1, to: i, condition: extra.clone(), delay: Some(names[i].clone()) })
                .collect();
            let svg = dag_svg(&nodes, &edges);
            prop_assert!(well_formed(&svg).is_ok(), "{:?}\n{}", well_formed(&svg), svg);
            let bars: Vec<GanttBar> = names
                .iter()
                .enumerate()
                .map(|(i, n)| GanttBar {
                    name: n.clone(),
                    state: extra.clone(),
                    start: Some(t(i as i64 * 7)),
                    end: (i % 2 == 0).then(|| t(i as i64 * 11)),
                    href: Some(n.clone()),
                })
                .collect();
            let svg = gantt_svg(&bars, t(100));
            prop_assert!(well_formed(&svg).is_ok(), "{:?}\n{}", well_formed(&svg), svg);
            // Every name comes back intact from its tooltip.
            let t = titles(&svg);
            for n in &names {
                let clean: String = n.chars().map(|c| match c {
                    '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
                    c => c,
                }).collect();
                let prefix = format!("{clean}\nstate: ");
                prop_assert!(t.iter().any(|t| t.starts_with(&prefix)));
            }
        }
    }
}
