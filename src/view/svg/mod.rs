//! SVG drawings for the web UI, rendered on the server as text: the DAG of a workflow or an
//! instance ([`dag_svg`], in `dag.rs`), the Gantt chart of an instance ([`gantt_svg`], in
//! `gantt.rs`), the overview of an instance too big for that ([`overview_svg`], in
//! `overview.rs`), and the home page's runs-per-day chart ([`runs_chart`], in `runs.rs`); this
//! file holds what they share: the escaper, number and class formatting, text fitting. Pure functions over plain data, no I/O.
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
//! - [`overview_svg`]: root `pgdag-overview`; `layer` (each row's `<g>`), `layer-label`,
//!   `layer-count`, `segment state-<state>` (one rect per state of the row).
//! - [`runs_chart`]: root `pgdag-runs`; `day` (each day's `<g>`), `hit` (its transparent
//!   full-height rect, so empty days have a tooltip too), `state-succeeded`,
//!   `state-failed`, `state-other` (stacked in that order from the bottom), `day-label`,
//!   `chart-max`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Writes into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

mod dag;
mod gantt;
mod overview;
mod runs;

pub use dag::{DagEdge, DagNode, NODE_H, NODE_W, dag_svg};
pub use gantt::{GanttBar, gantt_svg};
pub use overview::{LayerCounts, OVERVIEW_ROWS, overview_svg};
pub use runs::{DayCount, RUNS_DAYS, runs_chart};

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
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use proptest::prelude::*;

    /// A small XML well-formedness checker: balanced tags, quoted attributes without raw
    /// `<`, `&` only in known entities, no forbidden characters, one root `<svg>`.
    pub(super) fn well_formed(xml: &str) -> Result<(), String> {
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
    pub(super) fn titles(svg: &str) -> Vec<String> {
        svg.split("<title>")
            .skip(1)
            .filter_map(|s| s.split("</title>").next())
            .map(unescape)
            .collect()
    }

    pub(super) fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    /// Every value of attribute `attr` on elements whose class list contains `class`.
    pub(super) fn attr_of(svg: &str, class: &str, attr: &str) -> Vec<f64> {
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

    pub(super) const NASTY: [&str; 6] = [
        "<script>alert(1)</script>",
        "a & b",
        "say \"hi\" 'there'",
        "]]><!--",
        "ctl\u{1}\u{1b}char\u{FFFF}",
        "",
    ];

    pub(super) fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 12, 14, 0, 0).unwrap() + TimeDelta::milliseconds(ms)
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
