//! The overview of an instance too big to draw task by task: one row per topological layer
//! (or per run of layers, when there are many), a bar of its tasks by state.

use std::fmt::Write as _;

use super::{Class, Esc, Num, open_svg, safe_href};

/// Most rows drawn: beyond this many layers, consecutive layers share a row.
pub const OVERVIEW_ROWS: usize = 100;
const LABEL_W: f64 = 110.0;
const BAR_W: f64 = 640.0;
const COUNT_W: f64 = 70.0;
const ROW_H: f64 = 16.0;
const BAR_H: f64 = 12.0;
const TOP: f64 = 4.0;
/// A state with at least one task shows, however small its share.
const MIN_SEGMENT: f64 = 1.5;

/// The tasks of one layer by state: `(state, count)` in the order the segments are drawn.
pub type LayerCounts = Vec<(String, usize)>;

/// One bar per layer (layer 0 on top), as long as the layer is wide relative to the widest
/// row, split by state; more than [`OVERVIEW_ROWS`] layers are binned into runs of equal
/// length. Each segment's tooltip says how many tasks of which state, and links to
/// `href(state)` when given (the task table filtered by that state).
pub fn overview_svg(layers: &[LayerCounts], href: impl Fn(&str) -> Option<String>) -> String {
    let per_row = layers.len().div_ceil(OVERVIEW_ROWS).max(1);
    let rows: Vec<(String, LayerCounts)> = layers
        .chunks(per_row)
        .enumerate()
        .map(|(i, chunk)| {
            let first = i * per_row + 1;
            let label = if chunk.len() == 1 {
                format!("layer {first}")
            } else {
                format!("layers {first}–{}", first + chunk.len() - 1)
            };
            let mut merged: LayerCounts = Vec::new();
            for (state, n) in chunk.iter().flatten() {
                match merged.iter_mut().find(|(s, _)| s == state) {
                    Some((_, total)) => *total += n,
                    None => merged.push((state.clone(), *n)),
                }
            }
            (label, merged)
        })
        .collect();
    let total = |counts: &LayerCounts| counts.iter().map(|(_, n)| n).sum::<usize>();
    let widest = rows.iter().map(|(_, c)| total(c)).max().unwrap_or(0).max(1);
    let width = LABEL_W + BAR_W + COUNT_W;
    let height = TOP * 2.0 + ROW_H * rows.len().max(1) as f64;
    let mut out = String::with_capacity(512 + 400 * rows.len());
    open_svg(
        &mut out,
        "pgdag-overview",
        width,
        height,
        "Tasks by layer and state",
    );
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let all = total(counts);
        out.push_str(r#"<g class="layer">"#);
        w!(
            out,
            r##"<text class="layer-label" x="0" y="{}" fill="#4b5563">{}</text>"##,
            Num(y + BAR_H - 1.0),
            Esc(label)
        );
        let length = BAR_W * all as f64 / widest as f64;
        let mut x = LABEL_W;
        for (state, n) in counts.iter().filter(|(_, n)| *n > 0) {
            let share = (length * *n as f64 / all as f64).max(MIN_SEGMENT);
            let link = href(state).filter(|h| safe_href(h));
            if let Some(h) = &link {
                w!(out, r#"<a href="{}">"#, Esc(h));
            }
            w!(
                out,
                r##"<rect class="segment state-{}" x="{}" y="{}" width="{}" height="{}" fill="#9ca3af"><title>{}: {} {}</title></rect>"##,
                Class(state),
                Num(x),
                Num(y),
                Num(share),
                Num(BAR_H),
                Esc(label),
                n,
                Esc(state)
            );
            if link.is_some() {
                out.push_str("</a>");
            }
            x += share;
        }
        w!(
            out,
            r##"<text class="layer-count" x="{}" y="{}" fill="#4b5563">{}</text>"##,
            Num(x + 4.0),
            Num(y + BAR_H - 1.0),
            all
        );
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::svg::tests::{attr_of, titles, well_formed};

    fn layer(counts: &[(&str, usize)]) -> LayerCounts {
        counts.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn one_row_per_layer_split_by_state_and_linked() {
        let svg = overview_svg(
            &[
                layer(&[("succeeded", 1)]),
                layer(&[("succeeded", 2), ("running", 2)]),
                layer(&[("pending", 0), ("failed", 1)]),
            ],
            |s| Some(format!("/instances/7?state={s}#tasks")),
        );
        well_formed(&svg).unwrap();
        assert_eq!(
            titles(&svg),
            [
                "layer 1: 1 succeeded",
                "layer 2: 2 succeeded",
                "layer 2: 2 running",
                "layer 3: 1 failed"
            ]
        );
        // The widest layer takes the whole bar; a state is shared in proportion.
        assert_eq!(attr_of(&svg, "state-running", "width"), [BAR_W / 2.0]);
        assert_eq!(attr_of(&svg, "state-failed", "width"), [BAR_W / 4.0]);
        assert!(svg.contains(r#"<a href="/instances/7?state=failed#tasks">"#));
    }

    #[test]
    fn many_layers_share_rows_and_names_are_escaped() {
        let layers: Vec<LayerCounts> = (0..10_000).map(|_| layer(&[("pending", 1)])).collect();
        let svg = overview_svg(&layers, |_| None);
        well_formed(&svg).unwrap();
        let all = titles(&svg);
        assert_eq!(all.len(), OVERVIEW_ROWS);
        assert_eq!(all[0], "layers 1–100: 100 pending");
        assert_eq!(all[99], "layers 9901–10000: 100 pending");
        assert!(svg.len() < 40_000, "{} bytes", svg.len());
        let svg = overview_svg(&[layer(&[("<x>", 1)])], |_| {
            Some("javascript:alert(1)".into())
        });
        well_formed(&svg).unwrap();
        assert!(!svg.contains("javascript:") && svg.contains("&lt;x&gt;"));
        // Nothing at all still draws a valid picture.
        well_formed(&overview_svg(&[], |_| None)).unwrap();
    }
}
