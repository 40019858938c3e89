//! Views: pure functions that turn plain data into what a page shows. No I/O — nothing
//! here touches the store, tokio or warp — so each view is tested like any other pure code,
//! and `api` only loads data, calls a view and sends its output.
//!
//! - `svg`: the DAG, the Gantt chart and the runs-per-day chart, rendered as SVG text.
//! - `layout`: the layered DAG layout behind the DAG drawing. It lives here rather than in
//!   `dag` because it is about drawing (rectangles, lanes, crossings), not about what a DAG
//!   means; `dag` keeps the graph checks and `plan`, which the master runs.
//! - `diff`: the line diff of two versions of a workflow's YAML.

pub mod diff;
pub mod layout;
pub mod svg;
