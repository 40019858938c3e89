//! The DAG of a workflow or an instance, laid out by [`crate::view::layout::layered`].

use std::fmt::Write as _;

use super::{Class, Esc, Num, open_svg, safe_href, truncate};
use crate::view::layout::{self, Point, Size};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::svg::tests::{NASTY, attr_of, titles, well_formed};

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
}
