//! The home page's runs-per-day chart.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};

use super::{Num, open_svg};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::svg::tests::{attr_of, titles, well_formed};

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
}
