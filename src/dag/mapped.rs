//! Mapped tasks (`foreach:`): what to do with the items of one expanded task, and the pure
//! helpers around them (the list, each item's params, the parent's aggregated outputs).
//!
//! The parent row of a mapped task is what [`super::plan`] sees; once the master has
//! expanded it into item rows, the parent is `running` and [`plan_items`] decides, each
//! round, which items to queue, kill or skip, and when the parent is done. Pure: the master
//! loads the items and applies the result in the evaluation's transaction.
//!
//! # Rules
//!
//! - `Running`: items that are `need_failover`, or `retrying`/`waiting` and due, are queued
//!   again first, then `pending` items in index order, while fewer than `max_parallel` items
//!   are active (`queued`, `dispatched`, `running`). Held items are left alone. A `retrying`
//!   or `waiting` item not yet due sets the wake-up.
//! - `Pausing`: start nothing; once no item is active, the parent is done if every item is
//!   final, else it is *suspended* (back to `pending`, so the instance can pause and a resume
//!   queues the parent again, which resumes its items).
//! - `Stopping`: kill every active item (once); once none is active, the parent is done if
//!   every item is final, else `killed` (the unfinished items stay for `start-failed`).
//! - `Ending` (failure strategy `end` after an unhandled failure elsewhere): kill every
//!   active item, skip every `pending`, `waiting`, `retrying` and `need_failover` one; once
//!   none is active, the parent is done.
//! - Done: `succeeded` when every item succeeded or was forced to; else `failed`, naming the
//!   failed items, when one failed; else `killed`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::TaskView;
use crate::model::TaskState;

/// What the instance is doing, as far as the items of one mapped task care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemMode {
    Running,
    Pausing,
    Stopping,
    Ending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemAction {
    Queue(usize),
    Kill(usize),
    Skip(usize),
}

/// How the parent of a mapped task ends (or pauses) this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentEnd {
    Succeeded,
    /// The indexes of the failed items.
    Failed(Vec<usize>),
    Killed,
    /// Back to `pending`, expanded: queued again on resume.
    Suspended,
}

impl ParentEnd {
    /// The parent row's new state.
    pub fn state(&self) -> TaskState {
        match self {
            ParentEnd::Succeeded => TaskState::Succeeded,
            ParentEnd::Failed(_) => TaskState::Failed,
            ParentEnd::Killed => TaskState::Killed,
            ParentEnd::Suspended => TaskState::Pending,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemPlan {
    /// At most one action per item, in item order (re-queued items before pending ones).
    pub actions: Vec<ItemAction>,
    pub end: Option<ParentEnd>,
    pub wake_at: Option<DateTime<Utc>>,
}

/// Decide what to do with the items of one expanded mapped task (rules in the module doc).
/// `max_parallel: None` starts every due item.
pub fn plan_items(
    items: &[TaskView],
    max_parallel: Option<u32>,
    mode: ItemMode,
    now: DateTime<Utc>,
) -> ItemPlan {
    let mut states: Vec<TaskState> = items.iter().map(|t| t.state).collect();
    let mut plan = ItemPlan::default();
    match mode {
        ItemMode::Running => {
            let limit = max_parallel.map_or(usize::MAX, |m| m.max(1) as usize);
            let mut active = states.iter().filter(|s| s.is_active()).count();
            let queue = |i: usize, states: &mut Vec<TaskState>, plan: &mut ItemPlan| {
                states[i] = TaskState::Queued;
                plan.actions.push(ItemAction::Queue(i));
            };
            // Attempts already under way first: a retry or a failover before a new item.
            for (i, t) in items.iter().enumerate() {
                if t.held {
                    continue;
                }
                let due = match t.state {
                    TaskState::NeedFailover => Some(true),
                    TaskState::Retrying => Some(t.retry_at.is_none_or(|at| at <= now)),
                    TaskState::Waiting => Some(t.wait_until.is_none_or(|at| at <= now)),
                    _ => None,
                };
                match due {
                    Some(true) if active < limit => {
                        queue(i, &mut states, &mut plan);
                        active += 1;
                    }
                    Some(false) => {
                        let at = t.retry_at.or(t.wait_until).unwrap_or(now);
                        plan.wake_at = Some(plan.wake_at.map_or(at, |w| w.min(at)));
                    }
                    _ => {}
                }
            }
            for (i, t) in items.iter().enumerate() {
                if active >= limit {
                    break;
                }
                if t.state == TaskState::Pending && !t.held {
                    queue(i, &mut states, &mut plan);
                    active += 1;
                }
            }
        }
        ItemMode::Pausing => {}
        ItemMode::Stopping | ItemMode::Ending => {
            for (i, t) in items.iter().enumerate() {
                if t.state.is_active() {
                    if !t.kill_requested {
                        plan.actions.push(ItemAction::Kill(i));
                    }
                } else if mode == ItemMode::Ending
                    && matches!(
                        t.state,
                        TaskState::Pending
                            | TaskState::Waiting
                            | TaskState::Retrying
                            | TaskState::NeedFailover
                    )
                {
                    states[i] = TaskState::Skipped;
                    plan.actions.push(ItemAction::Skip(i));
                }
            }
        }
    }
    if states.iter().any(|s| s.is_active()) {
        return plan;
    }
    plan.end = if states.iter().all(|s| s.is_final()) {
        Some(outcome(&states))
    } else {
        match mode {
            ItemMode::Running => None,
            ItemMode::Pausing => Some(ParentEnd::Suspended),
            ItemMode::Stopping | ItemMode::Ending => Some(ParentEnd::Killed),
        }
    };
    if plan.end.is_some() {
        plan.wake_at = None;
    }
    plan
}

fn outcome(states: &[TaskState]) -> ParentEnd {
    if states.iter().all(|s| s.is_success()) {
        return ParentEnd::Succeeded;
    }
    let failed: Vec<usize> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == TaskState::Failed)
        .map(|(i, _)| i)
        .collect();
    if failed.is_empty() {
        ParentEnd::Killed
    } else {
        ParentEnd::Failed(failed)
    }
}

/// The parent's error when items failed: "items task[1], task[4] failed" (at most ten named).
pub fn failed_items_message(task: &str, failed: &[usize], total: usize) -> String {
    const NAMED: usize = 10;
    let mut names: Vec<String> = failed
        .iter()
        .take(NAMED)
        .map(|i| format!("{task}[{i}]"))
        .collect();
    if failed.len() > NAMED {
        names.push(format!("and {} more", failed.len() - NAMED));
    }
    format!(
        "{} of {total} items failed: {}",
        failed.len(),
        names.join(", ")
    )
}

/// The `foreach` value of `task`, expanded to `text`, as a list; the error names the task
/// and what the value was instead.
pub fn parse_list(task: &str, text: &str) -> Result<Vec<Value>, String> {
    let shown = || {
        let mut s: String = text.chars().take(80).collect();
        if text.chars().count() > 80 {
            s.push('…');
        }
        s
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(other) => Err(format!(
            "task {task}: `foreach` must expand to a JSON list, not a JSON {} ({:?})",
            json_type(&other),
            shown()
        )),
        Err(e) => Err(format!(
            "task {task}: `foreach` must expand to a JSON list, but {:?} is not JSON ({e})",
            shown()
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// The params a `foreach` expression names (`${files}` → `files`): the list, which its
/// items do not get as a param (each gets its element as `${item}`).
pub fn list_params(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = rest[..end].trim();
        if !name.is_empty() && !name.contains(['$', '{', '(']) {
            names.push(name.to_string());
        }
        rest = &rest[end + 1..];
    }
    names
}

/// The error of a list longer than the bound.
pub fn too_long_message(task: &str, len: usize, bound: usize) -> String {
    format!(
        "task {task}: foreach list has {len} items, more than the bound {bound} (PGDAG_MAX_MAP_ITEMS)"
    )
}

/// A JSON value as a param's text: strings raw, null empty, anything else as JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The params one item sees: `item` (the element), `item.KEY` for each key of an object
/// element, and `item_index`.
pub fn item_params(value: &Value, index: usize) -> Vec<(String, String)> {
    let mut params = vec![
        ("item".to_string(), as_text(value)),
        ("item_index".to_string(), index.to_string()),
    ];
    if let Value::Object(fields) = value {
        for (k, v) in fields {
            params.push((format!("item.{k}"), as_text(v)));
        }
    }
    params
}

/// The parent's out params once every item succeeded: each out param any item set, as a
/// list in item order (`null` where an item did not set it), and `TASK.outputs`, the list of
/// every item's out params object.
pub fn aggregate_outputs(task: &str, outs: &[Value]) -> Value {
    let names: BTreeSet<&String> = outs
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys())
        .collect();
    let mut result = serde_json::Map::new();
    for name in names {
        let list: Vec<Value> = outs
            .iter()
            .map(|o| o.get(name.as_str()).cloned().unwrap_or(Value::Null))
            .collect();
        result.insert(name.clone(), Value::Array(list));
    }
    let objects: Vec<Value> = outs
        .iter()
        .map(|o| {
            if o.is_object() {
                o.clone()
            } else {
                Value::Object(Default::default())
            }
        })
        .collect();
    result.insert(format!("{task}.outputs"), Value::Array(objects));
    Value::Object(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn view(state: TaskState) -> TaskView {
        TaskView {
            state,
            ended_at: None,
            retry_at: None,
            wait_until: None,
            kill_requested: false,
            held: false,
            taken: None,
        }
    }

    fn views(states: &[TaskState]) -> Vec<TaskView> {
        states.iter().map(|s| view(*s)).collect()
    }

    fn run(states: &[TaskState], max: Option<u32>) -> ItemPlan {
        plan_items(&views(states), max, ItemMode::Running, now())
    }

    #[test]
    fn pending_items_start_up_to_max_parallel() {
        let plan = run(&[Pending, Pending, Pending, Pending], Some(2));
        assert_eq!(
            plan.actions,
            vec![ItemAction::Queue(0), ItemAction::Queue(1)]
        );
        assert_eq!(plan.end, None);
    }

    #[test]
    fn active_items_count_against_max_parallel() {
        let plan = run(&[Succeeded, Running, Queued, Pending], Some(2));
        assert!(plan.actions.is_empty());
        let plan = run(&[Succeeded, Running, Dispatched, Pending, Pending], Some(3));
        assert_eq!(plan.actions, vec![ItemAction::Queue(3)]);
    }

    #[test]
    fn without_max_parallel_every_pending_item_starts() {
        let plan = run(&[Pending, Pending, Pending], None);
        assert_eq!(plan.actions.len(), 3);
    }

    #[test]
    fn retries_and_failovers_go_first() {
        let plan = run(&[Pending, Retrying, NeedFailover], Some(2));
        assert_eq!(
            plan.actions,
            vec![ItemAction::Queue(1), ItemAction::Queue(2)]
        );
    }

    #[test]
    fn a_retry_not_due_sets_the_wake_up() {
        let mut items = views(&[Retrying, Succeeded]);
        let at = now() + chrono::TimeDelta::seconds(30);
        items[0].retry_at = Some(at);
        let plan = plan_items(&items, None, ItemMode::Running, now());
        assert!(plan.actions.is_empty());
        assert_eq!(plan.wake_at, Some(at));
        assert_eq!(plan.end, None);
        items[0].retry_at = Some(now());
        let plan = plan_items(&items, None, ItemMode::Running, now());
        assert_eq!(plan.actions, vec![ItemAction::Queue(0)]);
    }

    #[test]
    fn held_items_wait_and_keep_the_parent_open() {
        let mut items = views(&[Pending, Succeeded]);
        items[0].held = true;
        let plan = plan_items(&items, None, ItemMode::Running, now());
        assert!(plan.actions.is_empty());
        assert_eq!(plan.end, None);
    }

    #[test]
    fn all_succeeded_ends_the_parent_succeeded() {
        let plan = run(&[Succeeded, ForcedSuccess, Succeeded], Some(1));
        assert_eq!(plan.end, Some(ParentEnd::Succeeded));
        assert!(plan.actions.is_empty());
    }

    #[test]
    fn a_failed_item_fails_the_parent_once_the_others_end() {
        let plan = run(&[Failed, Running], None);
        assert_eq!(plan.end, None);
        let plan = run(&[Failed, Succeeded, Failed], None);
        assert_eq!(plan.end, Some(ParentEnd::Failed(vec![0, 2])));
        let plan = run(&[Killed, Succeeded], None);
        assert_eq!(plan.end, Some(ParentEnd::Killed));
    }

    #[test]
    fn empty_items_succeed() {
        assert_eq!(run(&[], Some(2)).end, Some(ParentEnd::Succeeded));
    }

    #[test]
    fn pausing_starts_nothing_and_suspends_once_idle() {
        let p = |s: &[TaskState]| plan_items(&views(s), None, ItemMode::Pausing, now());
        let plan = p(&[Running, Pending]);
        assert!(plan.actions.is_empty());
        assert_eq!(plan.end, None);
        assert_eq!(p(&[Succeeded, Pending]).end, Some(ParentEnd::Suspended));
        assert_eq!(p(&[Succeeded, Succeeded]).end, Some(ParentEnd::Succeeded));
    }

    #[test]
    fn stopping_kills_active_items_once_and_leaves_pending_ones() {
        let mut items = views(&[Running, Queued, Pending]);
        items[1].kill_requested = true;
        let plan = plan_items(&items, None, ItemMode::Stopping, now());
        assert_eq!(plan.actions, vec![ItemAction::Kill(0)]);
        assert_eq!(plan.end, None);
        let plan = plan_items(&views(&[Killed, Pending]), None, ItemMode::Stopping, now());
        assert!(plan.actions.is_empty());
        assert_eq!(plan.end, Some(ParentEnd::Killed));
    }

    #[test]
    fn ending_kills_and_skips() {
        let plan = plan_items(
            &views(&[Running, Pending, Retrying, Succeeded]),
            None,
            ItemMode::Ending,
            now(),
        );
        assert_eq!(
            plan.actions,
            vec![
                ItemAction::Kill(0),
                ItemAction::Skip(1),
                ItemAction::Skip(2)
            ]
        );
        assert_eq!(plan.end, None);
        let plan = plan_items(&views(&[Pending, Failed]), None, ItemMode::Ending, now());
        assert_eq!(plan.end, Some(ParentEnd::Failed(vec![1])));
        let plan = plan_items(&views(&[Pending, Succeeded]), None, ItemMode::Ending, now());
        assert_eq!(plan.end, Some(ParentEnd::Killed));
    }

    #[test]
    fn the_list_must_be_a_json_list() {
        assert_eq!(
            parse_list("t", "[1, \"a\"]").unwrap(),
            vec![json!(1), json!("a")]
        );
        assert_eq!(parse_list("t", "[]").unwrap(), Vec::<Value>::new());
        let e = parse_list("t", "{\"a\": 1}").unwrap_err();
        assert!(
            e.contains("task t") && e.contains("not a JSON object"),
            "{e}"
        );
        let e = parse_list("t", "a,b").unwrap_err();
        assert!(e.contains("is not JSON"), "{e}");
        let e = parse_list("t", "\"x\"").unwrap_err();
        assert!(e.contains("JSON string"), "{e}");
    }

    #[test]
    fn the_list_params_are_the_names_foreach_uses() {
        assert_eq!(list_params("${files}"), vec!["files"]);
        assert_eq!(list_params(" ${ a } and ${b}"), vec!["a", "b"]);
        assert!(list_params("[1, 2]").is_empty());
        assert!(list_params("${setValue(x=1)} ${unclosed").is_empty());
    }

    #[test]
    fn item_params_flatten_objects() {
        let p = item_params(&json!({"col": "x", "n": 2, "z": null}), 3);
        assert!(p.contains(&("item".into(), "{\"col\":\"x\",\"n\":2,\"z\":null}".into())));
        assert!(p.contains(&("item.col".into(), "x".into())));
        assert!(p.contains(&("item.n".into(), "2".into())));
        assert!(p.contains(&("item.z".into(), "".into())));
        assert!(p.contains(&("item_index".into(), "3".into())));
        let p = item_params(&json!("file.csv"), 0);
        assert_eq!(
            p,
            vec![
                ("item".to_string(), "file.csv".to_string()),
                ("item_index".to_string(), "0".to_string())
            ]
        );
    }

    #[test]
    fn outputs_are_lists_in_item_order() {
        let v = aggregate_outputs(
            "load",
            &[json!({"n": "1"}), json!({}), json!({"n": "3", "m": "x"})],
        );
        assert_eq!(v["n"], json!(["1", null, "3"]));
        assert_eq!(v["m"], json!([null, null, "x"]));
        assert_eq!(
            v["load.outputs"],
            json!([{"n": "1"}, {}, {"n": "3", "m": "x"}])
        );
    }

    #[test]
    fn messages_name_the_task_and_the_bound() {
        assert_eq!(
            too_long_message("t", 11, 10),
            "task t: foreach list has 11 items, more than the bound 10 (PGDAG_MAX_MAP_ITEMS)"
        );
        let m = failed_items_message("t", &(0..12).collect::<Vec<_>>(), 20);
        assert!(m.starts_with("12 of 20 items failed: t[0], t[1]"), "{m}");
        assert!(m.ends_with("and 2 more"), "{m}");
    }
}
