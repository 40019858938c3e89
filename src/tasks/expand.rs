//! A task as the worker gets it: its type's expanded keys and its declared environment with
//! `${param}` and `$[time]` expanded. One function for the master at queue time and for
//! `pgdag plan`, so a plan shows exactly what would run.

use crate::params::{self, ParamMap, RunContext};
use crate::spec::WorkflowSpec;

/// Task `i` of `spec` (its serde form) with the strings of its type's expanded keys
/// expanded against `resolved`, and `env` set to the workflow's environment with the task's
/// over it, expanded. With `secret_nonce` (the master at queue time), each `${secret.NAME}`
/// written in those keys is marked with it before params are expanded, so the worker fills
/// it and a reference that a param value brings in stays text (params::secrets); the nonce
/// is then recorded as `secret_nonce`. Without it (`pgdag plan`) references stay as written.
/// An `Err` is a parameter error, naming the key.
pub fn expanded_task(
    spec: &WorkflowSpec,
    i: usize,
    resolved: &ParamMap,
    ctx: &RunContext,
    secret_nonce: Option<&str>,
) -> Result<serde_json::Value, String> {
    let task = &spec.tasks[i];
    let mut value = serde_json::to_value(task).map_err(|e| e.to_string())?;
    let mut secrets = false;
    let mut mark = |field: &mut serde_json::Value| {
        let Some(nonce) = secret_nonce else { return };
        params::secrets::for_each_string(field, &mut |text| {
            let (marked, any) = params::secrets::mark(text, nonce);
            if any {
                *text = marked;
                secrets = true;
            }
        })
    };
    for key in super::plugin(task.task_type()).expanded_keys() {
        if let Some(field) = value.get_mut(*key) {
            mark(field);
            expand_strings(field, resolved, ctx).map_err(|e| format!("{key}: {e}"))?;
        }
    }
    // Declared environment: the workflow's, then the task's over it, `${...}` expanded.
    let mut env = spec.env.clone();
    env.extend(task.env.clone());
    if !env.is_empty() {
        let mut field = serde_json::to_value(&env).map_err(|e| e.to_string())?;
        mark(&mut field);
        expand_strings(&mut field, resolved, ctx).map_err(|e| format!("env: {e}"))?;
        value["env"] = field;
    }
    if let (true, Some(nonce)) = (secrets, secret_nonce) {
        value["secret_nonce"] = serde_json::Value::String(nonce.to_string());
    }
    Ok(value)
}

/// Expands every string inside `value` (map keys are left as written).
fn expand_strings(
    value: &mut serde_json::Value,
    params: &ParamMap,
    ctx: &RunContext,
) -> Result<(), String> {
    match value {
        serde_json::Value::String(text) => {
            *text = params::expand(text, params, ctx).map_err(|e| e.to_string())?;
        }
        serde_json::Value::Array(items) => {
            for item in items {
                expand_strings(item, params, ctx)?;
            }
        }
        serde_json::Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                expand_strings(item, params, ctx)?;
            }
        }
        _ => {}
    }
    Ok(())
}
