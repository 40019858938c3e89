//! A workflow's `triggers:`: runs started by the end of another workflow's runs.
//!
//! `triggers: [{ after: W | P/W, state: succeeded }]` — each instance of the workflow named
//! by `after` that ends in `state` starts one instance of this workflow (the master does it
//! in the transaction that ends the other instance, `store::triggers`). Here only the shape
//! is checked: names, states, no trigger on the workflow itself, no workflow listed twice.
//! Cycles through other workflows are refused when the definition is stored, where the
//! other workflows' triggers are known.

use serde::{Deserialize, Serialize};

use super::draft::Ctx;
use super::parse::{choice, fields, list, workflow_ref};
use super::tree::Node;
use super::types::{WorkflowSpec, split_workflow_ref};
use crate::model::WorkflowState;

/// Most triggers one workflow may list.
pub const MAX_TRIGGERS: usize = 100;

crate::model::string_enum!(
    /// The end of the other workflow's instance that starts a run: `any` is any of the
    /// three final states (a pause is not an end).
    TriggerState, "trigger state", default Succeeded, {
    Succeeded => "succeeded",
    Failed => "failed",
    Stopped => "stopped",
    Any => "any",
});

impl TriggerState {
    /// The instance states this trigger fires on.
    pub fn states(self) -> &'static [WorkflowState] {
        match self {
            TriggerState::Succeeded => &[WorkflowState::Succeeded],
            TriggerState::Failed => &[WorkflowState::Failed],
            TriggerState::Stopped => &[WorkflowState::Stopped],
            TriggerState::Any => &[
                WorkflowState::Succeeded,
                WorkflowState::Failed,
                WorkflowState::Stopped,
            ],
        }
    }
}

fn is_succeeded(state: &TriggerState) -> bool {
    *state == TriggerState::Succeeded
}

/// One entry of `triggers:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSpec {
    /// The other workflow, `W` (this project) or `P/W`, as written.
    pub after: String,
    #[serde(default, skip_serializing_if = "is_succeeded")]
    pub state: TriggerState,
}

/// One row of the reverse index: an end of `project/workflow` in `state` starts a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub project: String,
    pub workflow: String,
    pub state: WorkflowState,
}

impl WorkflowSpec {
    /// The `(project, workflow, state)` ends that start a run of this workflow, `after: W`
    /// read as this project's `W`, `state: any` as its three states.
    pub fn trigger_upstreams(&self) -> Vec<Upstream> {
        let mut out = Vec::new();
        for trigger in &self.triggers {
            let (project, workflow) = split_workflow_ref(&trigger.after);
            for &state in trigger.state.states() {
                out.push(Upstream {
                    project: project.unwrap_or(&self.project).to_string(),
                    workflow: workflow.to_string(),
                    state,
                });
            }
        }
        out
    }
}

const TRIGGER_KEYS: &[&str] = &["after", "state"];

/// `triggers:` of the workflow `project/name` (either `None` when it is itself invalid).
pub(super) fn triggers(
    ctx: &mut Ctx,
    node: &Node,
    project: Option<&str>,
    name: Option<&str>,
) -> Option<Vec<TriggerSpec>> {
    let items = list(ctx, node, "triggers")?;
    let start = ctx.errors.len();
    if items.len() > MAX_TRIGGERS {
        ctx.err(
            node.pos,
            format!(
                "`triggers` lists {} entries; at most {MAX_TRIGGERS}",
                items.len()
            ),
        );
        return None;
    }
    let mut out: Vec<TriggerSpec> = Vec::with_capacity(items.len());
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(mut f) = fields(ctx, item, "a trigger") else {
            continue;
        };
        let after = f
            .required(ctx, "after", "trigger")
            .and_then(|n| workflow_ref(ctx, n, "after"));
        let state = f
            .take("state")
            .and_then(|n| choice(ctx, n, "state"))
            .unwrap_or_default();
        f.reject_rest(ctx, |key| {
            format!(
                "unknown key `{key}` in trigger (expected one of: {})",
                TRIGGER_KEYS.join(", ")
            )
        });
        let Some(after) = after else { continue };
        let pos = f.source.pos("after");
        let (p, w) = split_workflow_ref(&after);
        if let (Some(own), Some(name)) = (project, name) {
            let upstream = (p.unwrap_or(own).to_string(), w.to_string());
            if upstream.0 == own && upstream.1 == name {
                ctx.err(
                    pos,
                    format!(
                        "`triggers[{i}]`: a workflow cannot be started by its own runs (after: {after})"
                    ),
                );
                continue;
            }
            if let Some((_, _, first)) = seen
                .iter()
                .find(|(sp, sw, _)| *sp == upstream.0 && *sw == upstream.1)
            {
                ctx.err(
                    pos,
                    format!(
                        "`triggers[{i}]`: {}/{} is listed already in triggers[{first}]; list it once (state: any starts a run on every end)",
                        upstream.0, upstream.1
                    ),
                );
                continue;
            }
            seen.push((upstream.0, upstream.1, i));
        }
        out.push(TriggerSpec { after, state });
    }
    (ctx.errors.len() == start).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Document, parse_documents};

    fn parse(triggers: &str) -> Result<WorkflowSpec, Vec<String>> {
        let text = format!(
            "project: p\nname: w\ntriggers: {triggers}\ntasks:\n  - {{ name: a, type: shell, script: 'true' }}\n"
        );
        match parse_documents("f.yaml", &text) {
            Ok(mut docs) => match docs.remove(0) {
                Document::Workflow(w) => Ok(w),
                other => panic!("not a workflow: {other:?}"),
            },
            Err(errors) => Err(errors.iter().map(|e| e.to_string()).collect()),
        }
    }

    #[test]
    fn triggers_default_to_succeeded_and_read_w_as_this_project() {
        let w = parse("[{ after: load }, { after: q/x, state: any }, { after: y, state: failed }]")
            .unwrap();
        assert_eq!(w.triggers[0].state, TriggerState::Succeeded);
        let ups: Vec<(String, String, &str)> = w
            .trigger_upstreams()
            .into_iter()
            .map(|u| (u.project, u.workflow, u.state.as_str()))
            .collect();
        let s = |p: &str, w: &str, st: &'static str| (p.to_string(), w.to_string(), st);
        assert_eq!(
            ups,
            [
                s("p", "load", "succeeded"),
                s("q", "x", "succeeded"),
                s("q", "x", "failed"),
                s("q", "x", "stopped"),
                s("p", "y", "failed"),
            ]
        );
    }

    #[test]
    fn bad_triggers_are_refused_at_their_line() {
        let cases = [
            (
                "[{ after: w }]",
                "f.yaml:3:",
                "cannot be started by its own runs",
            ),
            (
                "[{ after: p/w }]",
                "f.yaml:3:",
                "cannot be started by its own runs",
            ),
            (
                "[{ after: a }, { after: p/a, state: failed }]",
                "f.yaml:3:",
                "is listed already in triggers[0]",
            ),
            (
                "[{ after: a, state: paused }]",
                "f.yaml:3:",
                "invalid `state`",
            ),
            (
                "[{ after: a, when: x }]",
                "f.yaml:3:",
                "unknown key `when` in trigger",
            ),
            (
                "[{ state: failed }]",
                "f.yaml:3:",
                "missing required key `after`",
            ),
            ("[{ after: 'a b' }]", "f.yaml:3:", "invalid `after`"),
            ("[{ after: 'x/y/z' }]", "f.yaml:3:", "invalid `after`"),
            ("{ after: a }", "f.yaml:3:", "`triggers` must be a list"),
            ("[a]", "f.yaml:3:", "a trigger must be a mapping"),
        ];
        for (triggers, at, message) in cases {
            let errors = parse(triggers).expect_err(triggers);
            assert!(
                errors
                    .iter()
                    .any(|e| e.starts_with(at) && e.contains(message)),
                "{triggers}: {errors:?}"
            );
        }
        let many = format!(
            "[{}]",
            (0..=MAX_TRIGGERS)
                .map(|i| format!("{{after: w{i}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(parse(&many).unwrap_err()[0].contains("at most 100"));
    }

    #[test]
    fn triggers_round_trip_through_export_and_stay_out_when_empty() {
        let w = parse("[{ after: load }, { after: q/x, state: stopped }]").unwrap();
        let yaml = crate::spec::export::to_yaml(&w);
        assert!(yaml.contains("triggers:"), "{yaml}");
        assert!(
            !yaml.contains("succeeded"),
            "the default is left out: {yaml}"
        );
        let again = match parse_documents("e.yaml", &yaml).unwrap().remove(0) {
            Document::Workflow(w) => w,
            _ => unreachable!(),
        };
        assert_eq!(again.triggers, w.triggers);
        let plain = parse("[]").unwrap();
        assert!(!crate::spec::export::to_yaml(&plain).contains("triggers"));
    }
}
