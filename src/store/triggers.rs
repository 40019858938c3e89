//! Runs started by runs: the reverse index of workflows' `triggers:` and the firing.
//!
//! [`set`] rewrites one workflow's rows with its current definition (every way a definition
//! becomes current ends in `definitions`, which calls it in the same transaction); a
//! deleted definition takes its rows with it (a cascade). [`fire`] runs in the master's
//! transaction that ends an instance, which holds the instance's row lock: each end is
//! seen by one transaction only, so each matching workflow gets exactly one start command,
//! however many masters run. The command is the ordinary `start` (consumed by any master,
//! audited as `command.start`), acting as `trigger:P/W#<instance>`, which is also the new
//! instance's `created_by`. An offline workflow is skipped (and logged), not queued.

use std::collections::{BTreeMap, BTreeSet};

use super::db::{Conn, query};
use super::{Result, StoreError};
use crate::model::WorkflowState;
use crate::spec::WorkflowSpec;

/// Replace the trigger rows of workflow `code` with those of `spec` (its current
/// definition), refusing a cycle of triggers through it.
pub async fn set(tx: &impl Conn, code: i64, spec: &WorkflowSpec) -> Result<()> {
    let upstreams = spec.trigger_upstreams();
    let projects: Vec<&str> = upstreams.iter().map(|u| u.project.as_str()).collect();
    let workflows: Vec<&str> = upstreams.iter().map(|u| u.workflow.as_str()).collect();
    let states: Vec<&str> = upstreams.iter().map(|u| u.state.as_str()).collect();
    tx.exec(
        query!("triggers/set"),
        &[&code, &projects, &workflows, &states],
    )
    .await?;
    // A new cycle needs a new edge, and the only new edges lead into this workflow.
    if upstreams.is_empty() {
        return Ok(());
    }
    let edges: Vec<(String, String)> = tx
        .fetch(query!("triggers/edges"), &[])
        .await?
        .iter()
        .map(|r| {
            let up = format!("{}/{}", r.get::<_, String>(0), r.get::<_, String>(1));
            let down = format!("{}/{}", r.get::<_, String>(2), r.get::<_, String>(3));
            (up, down)
        })
        .collect();
    let me = format!("{}/{}", spec.project, spec.name);
    match find_cycle(&edges, &me) {
        None => Ok(()),
        Some(path) => Err(StoreError::Invalid(format!(
            "workflow {me}: its triggers make a cycle ({}), so each run would start the next forever; remove one of them",
            path.join(" → ")
        ))),
    }
}

/// A path of edges (upstream → downstream) from `start` back to itself, if there is one.
pub fn find_cycle(edges: &[(String, String)], start: &str) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (up, down) in edges {
        next.entry(up.as_str()).or_default().push(down.as_str());
    }
    // Depth-first with an explicit stack of (node, index of the next successor to try),
    // so that the stack is the path; each node is entered once.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut path: Vec<(&str, usize)> = vec![(start, 0)];
    seen.insert(start);
    while let Some((node, i)) = path.last_mut() {
        let successors = next.get(*node).map(Vec::as_slice).unwrap_or_default();
        let Some(&succ) = successors.get(*i) else {
            path.pop();
            continue;
        };
        *i += 1;
        if succ == start {
            let mut names: Vec<String> = path.iter().map(|(n, _)| n.to_string()).collect();
            names.push(start.to_string());
            return Some(names);
        }
        if seen.insert(succ) {
            path.push((succ, 0));
        }
    }
    None
}

/// One run a trigger started, or would have started had its workflow been online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub project: String,
    pub workflow: String,
    /// The new instance's id; `None` when the workflow is offline (nothing started).
    pub instance_id: Option<i64>,
}

/// The actor of the start commands that the end of instance `id` of `project/workflow`
/// inserts.
pub fn actor(project: &str, workflow: &str, id: i64) -> String {
    format!("trigger:{project}/{workflow}#{id}")
}

/// Instance `instance_id` of `project/workflow` ended in `state`: start one run of each
/// online workflow that has a trigger on that end. Call it in the transaction that ends
/// the instance (see the module comment).
pub async fn fire(
    tx: &impl Conn,
    instance_id: i64,
    project: &str,
    workflow: &str,
    state: WorkflowState,
) -> Result<Vec<Fired>> {
    if !matches!(
        state,
        WorkflowState::Succeeded | WorkflowState::Failed | WorkflowState::Stopped
    ) {
        return Ok(Vec::new());
    }
    let actor = actor(project, workflow, instance_id);
    let fired: Vec<Fired> = tx
        .fetch(
            query!("triggers/fire"),
            &[&instance_id, &project, &workflow, &state.as_str(), &actor],
        )
        .await?
        .iter()
        .map(|r| Fired {
            project: r.get("project"),
            workflow: r.get("workflow"),
            instance_id: r.get("workflow_instance_id"),
        })
        .collect();
    for f in &fired {
        match f.instance_id {
            Some(started) => tracing::info!(
                instance_id,
                started,
                target_workflow = %format!("{}/{}", f.project, f.workflow),
                %state,
                "trigger starts a run"
            ),
            None => tracing::warn!(
                instance_id,
                target_workflow = %format!("{}/{}", f.project, f.workflow),
                %state,
                "trigger skipped: the workflow is offline"
            ),
        }
    }
    Ok(fired)
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    fn edges(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_cycle_through_the_start_is_found_with_its_path() {
        let e = edges(&[
            ("p/a", "p/b"),
            ("p/b", "q/c"),
            ("q/c", "p/a"),
            ("p/b", "p/d"),
        ]);
        assert_eq!(find_cycle(&e, "p/a").unwrap(), ["p/a", "p/b", "q/c", "p/a"]);
        assert_eq!(find_cycle(&e, "p/d"), None);
    }

    #[test]
    fn chains_and_diamonds_are_no_cycle() {
        let e = edges(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")]);
        for start in ["a", "b", "c", "d", "e", "x"] {
            assert_eq!(find_cycle(&e, start), None, "{start}");
        }
        // A cycle elsewhere is not this workflow's.
        let e = edges(&[("a", "b"), ("b", "c"), ("c", "b")]);
        assert_eq!(find_cycle(&e, "a"), None);
    }
}
