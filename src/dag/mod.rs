//! The workflow graph and its evaluation, as pure functions (no I/O).
//!
//! `graph` checks the shape of a DAG (cycles, unknown edges); `plan` decides, from the
//! current task states of one instance, what the master must do next. The master loads the
//! data, calls [`plan::plan`], and applies the returned actions in the same transaction.
//! How a DAG is drawn is `view::layout`'s business.

pub mod graph;
pub mod mapped;
pub mod plan;

pub use graph::{find_cycle, layers};
pub use plan::{
    Action, Branch, Dag, DagEdge, DagTask, InstanceView, Plan, TaskView, ends_after_failure, plan,
};
