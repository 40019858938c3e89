//! Walks a [`Node`] tree, checks it against the format of DESIGN §6 and builds the typed
//! specs. Every problem is recorded in [`Ctx`] with its position and the walk goes on, so
//! that one run reports all of them; a document with any error produces no spec.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::check;
use super::draft::{Ctx, Draft};
use super::tree::{Node, ScalarType, Value};
use super::types::*;
use crate::model::{Condition, Duration, ExecutionType, RetryBackoff, TaskType};

/// Longest project, workflow, task (and other) name.
pub const MAX_NAME_LEN: usize = 100;

/// The entries of one mapping, taken one by one; what is left at the end is unknown.
pub(crate) struct Fields<'a> {
    pub pos: Pos,
    entries: Vec<Field<'a>>,
    pub source: SourceMap,
}

struct Field<'a> {
    key: String,
    key_pos: Pos,
    value: &'a Node,
    used: bool,
}

/// Opens `node` as a mapping with text keys; reports non-mappings, odd keys and repeated keys.
pub(crate) fn fields<'a>(ctx: &mut Ctx, node: &'a Node, what: &str) -> Option<Fields<'a>> {
    let Value::Map(entries) = &node.value else {
        ctx.err(
            node.pos,
            format!("{what} must be a mapping, not {}", node.describe()),
        );
        return None;
    };
    let mut fields = Fields {
        pos: node.pos,
        entries: Vec::with_capacity(entries.len()),
        source: SourceMap::default(),
    };
    fields.source.insert("", node.pos);
    for (key, value) in entries {
        let Value::Scalar(scalar) = &key.value else {
            ctx.err(
                key.pos,
                format!("keys in {what} must be strings, not {}", key.describe()),
            );
            continue;
        };
        if let Some(first) = fields.entries.iter().find(|f| f.key == scalar.text) {
            ctx.err(
                key.pos,
                format!(
                    "duplicate key `{}` in {what} (first at line {})",
                    scalar.text, first.key_pos.line
                ),
            );
            continue;
        }
        fields.source.insert(&scalar.text, key.pos);
        fields.entries.push(Field {
            key: scalar.text.clone(),
            key_pos: key.pos,
            value,
            used: false,
        });
    }
    Some(fields)
}

impl<'a> Fields<'a> {
    /// The value of `key`; `None` when absent or null (an empty value means "not set").
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        let field = self.entries.iter_mut().find(|f| f.key == key)?;
        field.used = true;
        match field.value.value {
            Value::Null => None,
            _ => Some(field.value),
        }
    }

    /// The value of `key`, which must be there.
    pub fn required(&mut self, ctx: &mut Ctx, key: &str, what: &str) -> Option<&'a Node> {
        if let Some(field) = self.entries.iter().find(|f| f.key == key)
            && matches!(field.value.value, Value::Null)
        {
            let pos = field.value.pos;
            self.take(key);
            ctx.err(pos, format!("`{key}` in {what} needs a value"));
            return None;
        }
        let value = self.take(key);
        if value.is_none() {
            ctx.err(self.pos, format!("missing required key `{key}` in {what}"));
        }
        value
    }

    /// Reports every key not taken, with `message(key)`.
    pub fn reject_rest(&mut self, ctx: &mut Ctx, message: impl Fn(&str) -> String) {
        self.reject_rest_if(ctx, |_| true, message)
    }

    pub fn reject_rest_if(
        &mut self,
        ctx: &mut Ctx,
        applies: impl Fn(&str) -> bool,
        message: impl Fn(&str) -> String,
    ) {
        for field in &mut self.entries {
            if !field.used && applies(&field.key) {
                field.used = true;
                ctx.err(field.key_pos, message(&field.key));
            }
        }
    }
}

fn unknown_key(what: &'static str, keys: &'static [&'static str]) -> impl Fn(&str) -> String {
    move |key| {
        format!(
            "unknown key `{key}` in {what} (expected one of: {})",
            keys.join(", ")
        )
    }
}

// ---- scalar readers: each reports its own error and returns None on failure ----

/// Any non-null scalar, as text.
pub(crate) fn text(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    match &node.value {
        Value::Scalar(s) => Some(s.text.clone()),
        _ => {
            ctx.err(
                node.pos,
                format!("`{key}` must be a string, not {}", node.describe()),
            );
            None
        }
    }
}

fn nonempty_text(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = text(ctx, node, key)?;
    if value.trim().is_empty() {
        ctx.err(node.pos, format!("`{key}` must not be empty"));
        return None;
    }
    Some(value)
}

/// Why `name` is not a valid name, if it is not: non-empty, at most [`MAX_NAME_LEN`]
/// characters of `[A-Za-z0-9_.-]`, and not `.` or `..` (names appear in URL paths).
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Some(format!("is longer than {MAX_NAME_LEN} characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!(
            "contains {bad:?}; use only letters, digits, '_', '.' and '-'"
        ));
    }
    if name == "." || name == ".." {
        return Some("must not be `.` or `..`".into());
    }
    None
}

/// A name (project, workflow, task, group...): see [`name_problem`].
pub(crate) fn name(ctx: &mut Ctx, node: &Node, what: &str) -> Option<String> {
    let value = text(ctx, node, what)?;
    match name_problem(&value) {
        None => Some(value),
        Some(problem) => {
            ctx.err(node.pos, format!("invalid {what} {value:?}: {problem}"));
            None
        }
    }
}

/// `W` or `P/W`.
fn workflow_ref(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = text(ctx, node, key)?;
    let (project, workflow) = split_workflow_ref(&value);
    let problem = project
        .and_then(|p| name_problem(p).map(|e| format!("project name {e}")))
        .or_else(|| name_problem(workflow).map(|e| format!("workflow name {e}")));
    match problem {
        None => Some(value),
        Some(problem) => {
            ctx.err(
                node.pos,
                format!("invalid `{key}` {value:?} (write W or P/W): {problem}"),
            );
            None
        }
    }
}

fn flag(ctx: &mut Ctx, node: &Node, key: &str) -> Option<bool> {
    match &node.value {
        Value::Scalar(s) => match s.ty {
            ScalarType::Bool(b) => Some(b),
            _ => {
                ctx.err(
                    node.pos,
                    format!("`{key}` must be true or false, not {:?}", s.text),
                );
                None
            }
        },
        _ => {
            ctx.err(
                node.pos,
                format!("`{key}` must be true or false, not {}", node.describe()),
            );
            None
        }
    }
}

/// A whole number in `min..=max`.
fn integer(ctx: &mut Ctx, node: &Node, key: &str, min: i128, max: i128) -> Option<i128> {
    match &node.value {
        Value::Scalar(s) => match s.ty {
            ScalarType::Int(i) if (min..=max).contains(&i) => Some(i),
            ScalarType::Int(_) => {
                ctx.err(
                    node.pos,
                    format!("`{key}` must be between {min} and {max}, not {}", s.text),
                );
                None
            }
            _ => {
                ctx.err(
                    node.pos,
                    format!("`{key}` must be a whole number, not {:?}", s.text),
                );
                None
            }
        },
        _ => {
            ctx.err(
                node.pos,
                format!("`{key}` must be a whole number, not {}", node.describe()),
            );
            None
        }
    }
}

fn duration(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Duration> {
    let value = match &node.value {
        Value::Scalar(s) => s.text.clone(),
        _ => {
            ctx.err(
                node.pos,
                format!(
                    "`{key}` must be a duration such as 30s, not {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    match value.parse::<Duration>() {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.err(node.pos, format!("invalid `{key}`: {e}"));
            None
        }
    }
}

/// One of an enum's spellings.
fn choice<T>(ctx: &mut Ctx, node: &Node, key: &str) -> Option<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let value = text(ctx, node, key)?;
    match value.parse::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            ctx.err(node.pos, format!("invalid `{key}`: {e}"));
            None
        }
    }
}

fn list<'a>(ctx: &mut Ctx, node: &'a Node, key: &str) -> Option<&'a [Node]> {
    match &node.value {
        Value::Seq(items) => Some(items),
        _ => {
            ctx.err(
                node.pos,
                format!("`{key}` must be a list, not {}", node.describe()),
            );
            None
        }
    }
}

fn text_list(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Vec<String>> {
    let items = list(ctx, node, key)?;
    let before = ctx.errors.len();
    let out: Vec<String> = items
        .iter()
        .filter_map(|item| text(ctx, item, &format!("{key} item")))
        .collect();
    (ctx.errors.len() == before).then_some(out)
}

/// A mapping of text to text (params, headers, conf). Null values read as "".
fn text_map(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    check_key: fn(&str) -> Option<String>,
) -> Option<BTreeMap<String, String>> {
    text_map_checked(ctx, node, key, check_key, |_| None)
}

/// [`text_map`] whose values must also pass `check_value` (reported at the value).
fn text_map_checked(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    check_key: fn(&str) -> Option<String>,
    check_value: fn(&str) -> Option<String>,
) -> Option<BTreeMap<String, String>> {
    let mut f = fields(ctx, node, &format!("`{key}`"))?;
    let before = ctx.errors.len();
    let mut out = BTreeMap::new();
    for field in &mut f.entries {
        field.used = true;
        if let Some(problem) = check_key(&field.key) {
            ctx.err(
                field.key_pos,
                format!("invalid key {:?} in `{key}`: {problem}", field.key),
            );
            continue;
        }
        let value = match &field.value.value {
            Value::Null => String::new(),
            Value::Scalar(s) => s.text.clone(),
            _ => {
                ctx.err(
                    field.value.pos,
                    format!(
                        "`{key}.{}` must be a string, not {}",
                        field.key,
                        field.value.describe()
                    ),
                );
                continue;
            }
        };
        if let Some(problem) = check_value(&value) {
            ctx.err(
                field.value.pos,
                format!("invalid `{key}.{}` {value:?}: {problem}", field.key),
            );
            continue;
        }
        out.insert(field.key.clone(), value);
    }
    (ctx.errors.len() == before).then_some(out)
}

fn param_name_problem(name: &str) -> Option<String> {
    name_problem(name)
}

/// A parameter name (as the keys of `params`).
fn param_name(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = text(ctx, node, key)?;
    match param_name_problem(&value) {
        None => Some(value),
        Some(problem) => {
            ctx.err(
                node.pos,
                format!("invalid param name {value:?} in `{key}`: {problem}"),
            );
            None
        }
    }
}

/// A list of distinct parameter names (`out` of sql and procedure tasks).
fn param_names(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Vec<String>> {
    let items = list(ctx, node, key)?;
    let before = ctx.errors.len();
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(name) = param_name(ctx, item, key) else {
            continue;
        };
        if out.contains(&name) {
            ctx.err(item.pos, format!("`{name}` is listed twice in `{key}`"));
            continue;
        }
        out.push(name);
    }
    (ctx.errors.len() == before).then_some(out)
}

/// A list of statements, none of them blank (`pre`/`post` of a sql task).
fn statements(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Vec<String>> {
    let items = list(ctx, node, key)?;
    let before = ctx.errors.len();
    let out: Vec<String> = items
        .iter()
        .filter_map(|item| nonempty_text(ctx, item, &format!("{key} item")))
        .collect();
    (ctx.errors.len() == before).then_some(out)
}

/// A whole number in `min..=max` that fits a `u32`.
fn count(ctx: &mut Ctx, node: &Node, key: &str, min: u32, max: u32) -> Option<u32> {
    integer(ctx, node, key, min.into(), max.into()).and_then(|n| u32::try_from(n).ok())
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name` or `schema.name`: the procedure of a procedure task. Arguments are bound from
/// `args`, so no SQL text is ever built from this beyond the name itself.
fn procedure_name(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = text(ctx, node, key)?;
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() > 2 || !parts.iter().all(|p| is_identifier(p)) {
        ctx.err(
            node.pos,
            format!(
                "{key} must be a procedure name such as `etl.refresh` (arguments go in `args`), not {value:?}"
            ),
        );
        return None;
    }
    Some(value)
}

/// A JVM memory size as spark-submit takes it: digits and an optional unit k, m, g or t
/// (any case), e.g. `512m`, `2g`.
fn memory_size(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = text(ctx, node, key)?;
    let digits = value.trim_end_matches(|c: char| "kmgtKMGT".contains(c));
    let ok = value.len() - digits.len() <= 1
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.chars().any(|c| c != '0');
    if !ok {
        ctx.err(
            node.pos,
            format!("`{key}` must be a memory size such as 512m or 2g, not {value:?}"),
        );
        return None;
    }
    Some(value)
}

/// Where `http` out params are read from; the rest of the path syntax is checked when the
/// task runs.
fn json_path_problem(path: &str) -> Option<String> {
    (!path.starts_with('$'))
        .then(|| "must be a JSON path starting with `$` (such as `$.data.id`)".to_string())
}

/// RFC 9110 token characters.
fn header_name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
    (!ok).then(|| "not a valid HTTP header name".to_string())
}

fn conf_key_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some("must not be empty".into())
    } else if name.len() > 256 || name.chars().any(char::is_control) {
        Some("must be one line of at most 256 bytes".into())
    } else {
        None
    }
}

fn env_name(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = text(ctx, node, key)?;
    if !is_identifier(&value) {
        ctx.err(
            node.pos,
            format!("`{key}` must be an environment variable name, not {value:?}"),
        );
        return None;
    }
    Some(value)
}

/// Why `name` cannot be a declared `env:` variable, if it cannot.
fn env_key_problem(name: &str) -> Option<String> {
    if !is_identifier(name) {
        Some(
            "an environment variable name is letters, digits and `_`, not starting with a digit"
                .into(),
        )
    } else if name
        .to_ascii_uppercase()
        .starts_with(crate::tasks::env::RESERVED_PREFIX)
    {
        Some(format!(
            "{} variables are set by pgdag, not declared",
            crate::tasks::env::RESERVED_PREFIX
        ))
    } else {
        None
    }
}

fn env_value_problem(value: &str) -> Option<String> {
    if value.len() > MAX_ENV_VALUE {
        Some(format!("longer than {MAX_ENV_VALUE} bytes"))
    } else if value.contains('\0') {
        Some("contains a NUL byte".into())
    } else {
        None
    }
}

/// An `env:` mapping (a workflow's or a task's): valid names, no `PGDAG_*`, bounded.
fn env_map(ctx: &mut Ctx, node: &Node) -> Option<BTreeMap<String, String>> {
    let env = text_map_checked(ctx, node, "env", env_key_problem, env_value_problem)?;
    let total: usize = env.iter().map(|(k, v)| k.len() + v.len()).sum();
    if env.len() > MAX_ENV_ENTRIES {
        ctx.err(
            node.pos,
            format!("`env` has {} entries; at most {MAX_ENV_ENTRIES}", env.len()),
        );
        return None;
    }
    if total > MAX_ENV_TOTAL {
        ctx.err(
            node.pos,
            format!("`env` holds {total} bytes; at most {MAX_ENV_TOTAL}"),
        );
        return None;
    }
    Some(env)
}

/// An `http://` or `https://` URL; a URL built from `${params}` is checked when it runs.
fn http_url(ctx: &mut Ctx, node: &Node, key: &str) -> Option<String> {
    let value = nonempty_text(ctx, node, key)?;
    let lower = value.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://") || value.contains("${")) {
        ctx.err(
            node.pos,
            format!("`{key}` must start with http:// or https://, not {value:?}"),
        );
        return None;
    }
    Some(value)
}

// ---- documents ----

const KINDS: &[&str] = &[
    "workflow",
    "datasource",
    "alert_group",
    "task_group",
    "tenant",
    "schedule",
    "variables",
    "secret",
];

/// One document of any kind.
pub(crate) fn document(ctx: &mut Ctx, node: &Node) -> Option<Document> {
    let Value::Map(_) = &node.value else {
        ctx.err(
            node.pos,
            format!("a document must be a mapping, not {}", node.describe()),
        );
        return None;
    };
    let mut f = fields(ctx, node, "document")?;
    let kind = match f.take("kind") {
        None => "workflow".to_string(),
        Some(k) => text(ctx, k, "kind")?,
    };
    match kind.as_str() {
        "workflow" => workflow(ctx, f).map(Document::Workflow),
        "datasource" => datasource(ctx, f).map(Document::Datasource),
        "alert_group" => alert_group(ctx, f).map(Document::AlertGroup),
        "task_group" => task_group(ctx, f).map(Document::TaskGroup),
        "tenant" => tenant(ctx, f).map(Document::Tenant),
        "schedule" => schedule_document(ctx, f).map(Document::Schedule),
        "variables" => variables(ctx, f).map(Document::Variables),
        "secret" => secret(ctx, f).map(Document::Secret),
        other => {
            let pos = f.source.pos("kind");
            ctx.err(
                pos,
                format!(
                    "unknown kind `{other}` (expected one of: {})",
                    KINDS.join(", ")
                ),
            );
            None
        }
    }
}

/// Shortest workflow `retention`: the pruner runs about once a minute and works in
/// batches, so anything shorter would not mean what it says.
const MIN_RETENTION: Duration = Duration { millis: 3_600_000 };

const WORKFLOW_KEYS: &[&str] = &[
    "kind",
    "project",
    "name",
    "description",
    "params",
    "failure_strategy",
    "priority",
    "execution",
    "worker_group",
    "timeout",
    "max_active_runs",
    "sla",
    "notify",
    "retention",
    "release",
    "schedule",
    "tenant",
    "env",
    "triggers",
    "tasks",
];

fn workflow(ctx: &mut Ctx, mut f: Fields) -> Option<WorkflowSpec> {
    let start = ctx.errors.len();
    const W: &str = "workflow";
    let project = f
        .required(ctx, "project", W)
        .and_then(|n| name(ctx, n, "project name"));
    let wf_name = f
        .required(ctx, "name", W)
        .and_then(|n| name(ctx, n, "workflow name"));
    let description = f
        .take("description")
        .and_then(|n| text(ctx, n, "description"))
        .unwrap_or_default();
    let params = f
        .take("params")
        .and_then(|n| text_map(ctx, n, "params", param_name_problem))
        .unwrap_or_default();
    let failure_strategy = f
        .take("failure_strategy")
        .and_then(|n| choice(ctx, n, "failure_strategy"))
        .unwrap_or_default();
    let priority = f
        .take("priority")
        .and_then(|n| choice(ctx, n, "priority"))
        .unwrap_or_default();
    let execution = f
        .take("execution")
        .and_then(|n| choice(ctx, n, "execution"))
        .unwrap_or_default();
    let worker_group = f
        .take("worker_group")
        .and_then(|n| name(ctx, n, "worker_group"))
        .unwrap_or_else(|| DEFAULT_WORKER_GROUP.to_string());
    let timeout = f.take("timeout").and_then(|n| duration(ctx, n, "timeout"));
    let max_active_runs = f.take("max_active_runs").and_then(|n| {
        let limit = integer(ctx, n, "max_active_runs", 1, MAX_ACTIVE_RUNS.into())
            .and_then(|r| u32::try_from(r).ok())?;
        if execution != ExecutionType::Parallel {
            ctx.err(
                n.pos,
                format!(
                    "`max_active_runs` needs `execution: parallel` (execution {execution} already runs one instance at a time)"
                ),
            );
            return None;
        }
        Some(limit)
    });
    let sla = f.take("sla").and_then(|n| sla(ctx, n));
    let notify = f.take("notify").and_then(|n| notify(ctx, n));
    let retention = f.take("retention").and_then(|n| {
        let pos = n.pos;
        duration(ctx, n, "retention").and_then(|d| {
            if d.millis < MIN_RETENTION.millis {
                ctx.err(
                    pos,
                    format!("`retention` must be at least {MIN_RETENTION}, not {d}"),
                );
                None
            } else {
                Some(d)
            }
        })
    });
    let release = f
        .take("release")
        .and_then(|n| choice(ctx, n, "release"))
        .unwrap_or_default();
    let schedule = f.take("schedule").and_then(|n| schedule(ctx, n));
    let tenant = f.take("tenant").and_then(|n| name(ctx, n, "tenant"));
    let env = f
        .take("env")
        .and_then(|n| env_map(ctx, n))
        .unwrap_or_default();
    let triggers = f
        .take("triggers")
        .and_then(|n| triggers(ctx, n, project.as_deref(), wf_name.as_deref()))
        .unwrap_or_default();
    let tasks = match f.take("tasks") {
        None => {
            let pos = f.source.pos("tasks");
            ctx.err(pos, "workflow has no tasks");
            None
        }
        Some(node) => tasks(ctx, node),
    };
    f.reject_rest(ctx, unknown_key("workflow", WORKFLOW_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(WorkflowSpec {
        project: project?,
        name: wf_name?,
        description,
        params,
        failure_strategy,
        priority,
        execution,
        worker_group,
        timeout,
        max_active_runs,
        sla,
        notify,
        retention,
        release,
        schedule,
        tenant,
        env,
        triggers,
        tasks: tasks?,
        source: f.source,
    })
}

const TRIGGER_KEYS: &[&str] = &["after", "state"];

/// `triggers:` of the workflow `project/name` (either `None` when it is itself invalid).
fn triggers(
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

const SLA_KEYS: &[&str] = &["finish_within"];

fn sla(ctx: &mut Ctx, node: &Node) -> Option<SlaSpec> {
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "sla")?;
    let finish_within = f.required(ctx, "finish_within", "sla").and_then(|n| {
        let d = duration(ctx, n, "sla.finish_within")?;
        if d.millis == 0 {
            ctx.err(n.pos, "`sla.finish_within` must be above zero");
            return None;
        }
        Some(d)
    });
    f.reject_rest(ctx, unknown_key("sla", SLA_KEYS));
    (ctx.errors.len() == start)
        .then_some(finish_within)
        .flatten()
        .map(|finish_within| SlaSpec { finish_within })
}

const NOTIFY_KEYS: &[&str] = &["when", "group"];

fn notify(ctx: &mut Ctx, node: &Node) -> Option<NotifySpec> {
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "notify")?;
    let when = f
        .take("when")
        .and_then(|n| choice(ctx, n, "notify.when"))
        .unwrap_or_default();
    let before_group = ctx.errors.len();
    let group = f
        .take("group")
        .and_then(|n| name(ctx, n, "alert group name"));
    if group.is_none() && when != NotifyWhen::None && ctx.errors.len() == before_group {
        ctx.err(
            node.pos,
            format!("notify needs a `group` (when is {when}; use `when: none` to turn alerts off)"),
        );
    }
    f.reject_rest(ctx, unknown_key("notify", NOTIFY_KEYS));
    (ctx.errors.len() == start).then_some(NotifySpec { when, group })
}

const SCHEDULE_KEYS: &[&str] = &["cron", "timezone", "start", "end", "misfire", "enabled"];

fn schedule(ctx: &mut Ctx, node: &Node) -> Option<ScheduleSpec> {
    let mut f = fields(ctx, node, "schedule")?;
    let schedule = schedule_keys(ctx, &mut f);
    f.reject_rest(ctx, unknown_key("schedule", SCHEDULE_KEYS));
    schedule
}

/// The keys of a schedule (a workflow's `schedule:`, or a `kind: schedule` document),
/// taken from `f`; the caller rejects the rest.
fn schedule_keys(ctx: &mut Ctx, f: &mut Fields) -> Option<ScheduleSpec> {
    let start_errors = ctx.errors.len();
    let cron = f
        .required(ctx, "cron", "schedule")
        .and_then(|n| cron_shape(ctx, n));
    let timezone = match f.take("timezone") {
        None => Some(DEFAULT_TIMEZONE.to_string()),
        Some(n) => text(ctx, n, "timezone").and_then(|tz| {
            if tz.parse::<chrono_tz::Tz>().is_ok() {
                Some(tz)
            } else {
                ctx.err(
                    n.pos,
                    format!("unknown time zone {tz:?} (write e.g. Europe/Berlin or UTC)"),
                );
                None
            }
        }),
    };
    let start = f.take("start").and_then(|n| moment(ctx, n, "start"));
    let end = f.take("end").and_then(|n| moment(ctx, n, "end"));
    if let (Some((_, a)), Some((_, b))) = (&start, &end)
        && let Some(ordering) = a.compare(b)
        && ordering.is_ge()
    {
        let pos = f.source.pos("end");
        ctx.err(pos, "schedule `end` must be after `start`");
    }
    let misfire = f
        .take("misfire")
        .and_then(|n| choice(ctx, n, "misfire"))
        .unwrap_or_default();
    let enabled = f
        .take("enabled")
        .and_then(|n| flag(ctx, n, "enabled"))
        .unwrap_or(true);
    if ctx.errors.len() > start_errors {
        return None;
    }
    Some(ScheduleSpec {
        cron: cron?,
        timezone: timezone?,
        start: start.map(|(s, _)| s),
        end: end.map(|(s, _)| s),
        misfire,
        enabled,
    })
}

const SCHEDULE_DOCUMENT_KEYS: &[&str] = &[
    "kind", "project", "workflow", "cron", "timezone", "start", "end", "misfire", "enabled",
];

/// A `kind: schedule` document: one more schedule of a workflow, besides its YAML one.
fn schedule_document(ctx: &mut Ctx, mut f: Fields) -> Option<ScheduleDocSpec> {
    let start = ctx.errors.len();
    let project = f
        .required(ctx, "project", "schedule")
        .and_then(|n| name(ctx, n, "project name"));
    let workflow = f
        .required(ctx, "workflow", "schedule")
        .and_then(|n| name(ctx, n, "workflow name"));
    let schedule = schedule_keys(ctx, &mut f);
    f.reject_rest(ctx, unknown_key("schedule", SCHEDULE_DOCUMENT_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(ScheduleDocSpec {
        project: project?,
        workflow: workflow?,
        schedule: schedule?,
        source: f.source,
    })
}

/// Only the shape: 5 fields (Unix) or 6-7 (Quartz, seconds first). The cron module parses it.
fn cron_shape(ctx: &mut Ctx, node: &Node) -> Option<String> {
    let value = nonempty_text(ctx, node, "cron")?;
    let fields = value.split_whitespace().count();
    if !(5..=7).contains(&fields) {
        ctx.err(
            node.pos,
            format!("cron expression {value:?} has {fields} fields (expected 5, 6 or 7)"),
        );
        return None;
    }
    Some(value)
}

/// A schedule bound: a date, a local date-time, or an instant.
enum Moment {
    Local(chrono::NaiveDateTime),
    Instant(chrono::DateTime<chrono::FixedOffset>),
}

impl Moment {
    fn parse(text: &str) -> Option<Moment> {
        use chrono::{DateTime, NaiveDate, NaiveDateTime};
        let text = text.trim();
        if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Some(Moment::Local(d.and_hms_opt(0, 0, 0)?));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Some(Moment::Local(t));
            }
        }
        DateTime::parse_from_rfc3339(text).ok().map(Moment::Instant)
    }

    /// Local times compare with local times, instants with instants; mixed: unknown.
    fn compare(&self, other: &Moment) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Moment::Local(a), Moment::Local(b)) => Some(a.cmp(b)),
            (Moment::Instant(a), Moment::Instant(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

fn moment(ctx: &mut Ctx, node: &Node, key: &str) -> Option<(String, Moment)> {
    let value = text(ctx, node, key)?;
    match Moment::parse(&value) {
        Some(m) => Some((value, m)),
        None => {
            ctx.err(
                node.pos,
                format!(
                    "invalid schedule `{key}` {value:?} (write 2026-01-01, 2026-01-01T02:00:00 or an RFC 3339 time)"
                ),
            );
            None
        }
    }
}

// ---- tasks ----

fn tasks(ctx: &mut Ctx, node: &Node) -> Option<Vec<TaskSpec>> {
    let items = list(ctx, node, "tasks")?;
    if items.is_empty() {
        ctx.err(node.pos, "workflow has no tasks");
        return None;
    }
    let drafts: Vec<Draft> = items.iter().map(|item| task(ctx, item)).collect();
    let before = ctx.errors.len();
    check::relations(ctx, &drafts);
    if ctx.errors.len() > before {
        return None;
    }
    drafts.into_iter().map(|d| d.spec).collect()
}

/// Keys every task may carry, whatever its type.
pub const COMMON_TASK_KEYS: &[&str] = &[
    "name",
    "type",
    "depends_on",
    "params",
    "priority",
    "worker_group",
    "task_group",
    "retries",
    "retry_interval",
    "retry_backoff",
    "retry_max_interval",
    "timeout",
    "run",
    "on_worker_loss",
    "env",
    "foreach",
    "max_parallel",
];

/// The most items `max_parallel` may allow at once (the default bound of a list).
pub const MAX_PARALLEL_ITEMS: u32 = 10_000;

/// Keys of each task type, besides [`COMMON_TASK_KEYS`].
pub fn type_keys(ty: TaskType) -> &'static [&'static str] {
    match ty {
        TaskType::Shell | TaskType::Python => &["script"],
        TaskType::Sql => &[
            "datasource",
            "sql",
            "kind",
            "send_result_to",
            "bind",
            "pre",
            "post",
            "out",
            "out_rows",
            "max_rows",
        ],
        TaskType::Procedure => &["datasource", "call", "args", "out"],
        TaskType::Http => &[
            "url",
            "method",
            "headers",
            "body",
            "expect_status",
            "expect_body_contains",
            "request_timeout",
            "out",
            "follow_redirects",
        ],
        TaskType::SubProcess => &["workflow"],
        TaskType::Dependent => &["all", "any", "check_interval", "failure", "wait_limit"],
        TaskType::Conditions => &["success", "failure"],
        TaskType::Switch => &["cases", "default"],
        TaskType::Spark => &[
            "main",
            "main_class",
            "master",
            "deploy_mode",
            "app_name",
            "driver_cores",
            "driver_memory",
            "num_executors",
            "executor_cores",
            "executor_memory",
            "queue",
            "args",
            "conf",
        ],
        TaskType::Mr => &["jar", "main_class", "app_name", "queue", "args", "conf"],
        TaskType::Empty => &[],
    }
}

fn task(ctx: &mut Ctx, node: &Node) -> Draft {
    let mut draft = Draft {
        pos: node.pos,
        name: None,
        spec: None,
        deps: Vec::new(),
        branches: Vec::new(),
    };
    let Some(mut f) = fields(ctx, node, "a task") else {
        return draft;
    };
    let start = ctx.errors.len();
    const T: &str = "task";
    let task_name = f
        .required(ctx, "name", T)
        .and_then(|n| name(ctx, n, "task name"));
    let name_pos = f.source.pos("name");
    draft.name = task_name.clone().map(|n| (n, name_pos));
    let ty = f.required(ctx, "type", T).and_then(|n| {
        let value = text(ctx, n, "type")?;
        match value.parse::<TaskType>() {
            Ok(ty) => Some(ty),
            Err(_) => {
                let expected: Vec<&str> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
                ctx.err(
                    n.pos,
                    format!(
                        "unknown task type `{value}` (expected one of: {})",
                        expected.join(", ")
                    ),
                );
                None
            }
        }
    });
    let depends_on = f
        .take("depends_on")
        .and_then(|n| depends_on(ctx, n, &mut draft.deps))
        .unwrap_or_default();
    let params = f
        .take("params")
        .and_then(|n| text_map(ctx, n, "params", param_name_problem))
        .unwrap_or_default();
    let priority = f.take("priority").and_then(|n| choice(ctx, n, "priority"));
    let worker_group = f
        .take("worker_group")
        .and_then(|n| name(ctx, n, "worker_group"));
    let task_group = f
        .take("task_group")
        .and_then(|n| name(ctx, n, "task_group"));
    let retries = f
        .take("retries")
        .and_then(|n| integer(ctx, n, "retries", 0, MAX_RETRIES.into()))
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0);
    let retry_interval = f
        .take("retry_interval")
        .and_then(|n| duration(ctx, n, "retry_interval"));
    let retry_backoff: RetryBackoff = f
        .take("retry_backoff")
        .and_then(|n| choice(ctx, n, "retry_backoff"))
        .unwrap_or_default();
    let retry_max_interval = f.take("retry_max_interval").and_then(|n| {
        let max = duration(ctx, n, "retry_max_interval")?;
        if retry_backoff != RetryBackoff::Exponential {
            ctx.err(
                n.pos,
                "`retry_max_interval` needs `retry_backoff: exponential` (a fixed backoff always waits retry_interval)",
            );
            return None;
        }
        if max < retry_interval.unwrap_or_default() {
            ctx.err(
                n.pos,
                format!(
                    "`retry_max_interval` {max} is shorter than `retry_interval` {}",
                    retry_interval.unwrap_or_default()
                ),
            );
            return None;
        }
        Some(max)
    });
    let timeout = f.take("timeout").and_then(|n| task_timeout(ctx, n));
    let run = f
        .take("run")
        .and_then(|n| flag(ctx, n, "run"))
        .unwrap_or(true);
    let on_worker_loss = f
        .take("on_worker_loss")
        .and_then(|n| choice(ctx, n, "on_worker_loss"))
        .unwrap_or_default();
    let env = f
        .take("env")
        .and_then(|n| env_map(ctx, n))
        .unwrap_or_default();
    let foreach_pos = f.source.pos("foreach");
    let foreach = f.take("foreach").and_then(|n| {
        let expr = text(ctx, n, "foreach")?;
        if expr.trim().is_empty() {
            ctx.err(n.pos, "`foreach` must not be empty: write an expression that expands to a JSON list, e.g. \"${files}\"");
            return None;
        }
        Some(expr)
    });
    let max_parallel = f.take("max_parallel").and_then(|n| {
        let max = integer(ctx, n, "max_parallel", 1, MAX_PARALLEL_ITEMS.into())?;
        if foreach.is_none() {
            ctx.err(n.pos, "`max_parallel` needs `foreach` (it bounds the items of a mapped task running at once)");
            return None;
        }
        u32::try_from(max).ok()
    });
    if foreach.is_some()
        && let Some(ty) = ty
        && ty.runs_on_master()
    {
        ctx.err(
            foreach_pos,
            format!(
                "`foreach` is not allowed on `type: {ty}`: only tasks a worker runs can be mapped"
            ),
        );
    }
    let kind = ty.and_then(|ty| task_kind(ctx, &mut f, ty, &mut draft.branches));
    match ty {
        Some(ty) => f.reject_rest(ctx, |key| format!("unknown key `{key}` for task type {ty}")),
        // Without a valid type, only keys that no type knows are surely wrong.
        None => f.reject_rest_if(
            ctx,
            |key| !TaskType::ALL.iter().any(|t| type_keys(*t).contains(&key)),
            |key| format!("unknown key `{key}` in task"),
        ),
    }
    if ctx.errors.len() > start {
        return draft;
    }
    let (Some(task_name), Some(kind)) = (task_name, kind) else {
        return draft;
    };
    let mut source = f.source;
    source.insert("", node.pos);
    draft.spec = Some(TaskSpec {
        name: task_name,
        kind,
        depends_on,
        params,
        priority,
        worker_group,
        task_group,
        retries,
        retry_interval,
        retry_backoff,
        retry_max_interval,
        timeout,
        run,
        on_worker_loss,
        env,
        foreach,
        max_parallel,
        line: if name_pos.line > 0 {
            name_pos.line
        } else {
            node.pos.line
        },
        source,
    });
    draft
}

const DEPENDS_ON_KEYS: &[&str] = &["task", "on", "delay"];

fn depends_on(ctx: &mut Ctx, node: &Node, deps: &mut Vec<(String, Pos)>) -> Option<Vec<DependsOn>> {
    let items = list(ctx, node, "depends_on")?;
    let start = ctx.errors.len();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match &item.value {
            Value::Scalar(_) => {
                if let Some(task) = name(ctx, item, "task name in depends_on") {
                    deps.push((task.clone(), item.pos));
                    out.push(DependsOn::on_success(task));
                }
            }
            Value::Map(_) => {
                let Some(mut f) = fields(ctx, item, "a depends_on entry") else {
                    continue;
                };
                let task_node = f.required(ctx, "task", "depends_on entry");
                let task = task_node.and_then(|n| name(ctx, n, "task name in depends_on"));
                let on = f
                    .take("on")
                    .and_then(|n| choice::<Condition>(ctx, n, "on"))
                    .unwrap_or_default();
                let delay = f.take("delay").and_then(|n| duration(ctx, n, "delay"));
                f.reject_rest(ctx, unknown_key("depends_on entry", DEPENDS_ON_KEYS));
                if let (Some(task), Some(task_node)) = (task, task_node) {
                    deps.push((task.clone(), task_node.pos));
                    out.push(DependsOn { task, on, delay });
                }
            }
            _ => ctx.err(
                item.pos,
                format!(
                    "a depends_on entry must be a task name or {{task, on, delay}}, not {}",
                    item.describe()
                ),
            ),
        }
    }
    (ctx.errors.len() == start).then_some(out)
}

const TIMEOUT_KEYS: &[&str] = &["after", "strategy"];

fn task_timeout(ctx: &mut Ctx, node: &Node) -> Option<TaskTimeout> {
    if let Value::Scalar(_) = node.value {
        return duration(ctx, node, "timeout").map(|after| TaskTimeout {
            after,
            strategy: TimeoutStrategy::default(),
        });
    }
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "timeout")?;
    let after = f
        .required(ctx, "after", "timeout")
        .and_then(|n| duration(ctx, n, "after"));
    let strategy = f
        .take("strategy")
        .and_then(|n| choice(ctx, n, "strategy"))
        .unwrap_or_default();
    f.reject_rest(ctx, unknown_key("timeout", TIMEOUT_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(TaskTimeout {
        after: after?,
        strategy,
    })
}

/// The type's own keys, taken from the task's fields.
fn task_kind(
    ctx: &mut Ctx,
    f: &mut Fields,
    ty: TaskType,
    branches: &mut Vec<(String, Pos, TaskType)>,
) -> Option<TaskKind> {
    let start = ctx.errors.len();
    let what = format!("task of type {ty}");
    let w = what.as_str();
    let kind = match ty {
        TaskType::Shell | TaskType::Python => {
            let script = f
                .required(ctx, "script", w)
                .and_then(|n| nonempty_text(ctx, n, "script"));
            let task = ScriptTask { script: script? };
            if ty == TaskType::Shell {
                TaskKind::Shell(task)
            } else {
                TaskKind::Python(task)
            }
        }
        TaskType::Sql => {
            let datasource = f
                .required(ctx, "datasource", w)
                .and_then(|n| name(ctx, n, "datasource name"));
            let sql = f
                .required(ctx, "sql", w)
                .and_then(|n| nonempty_text(ctx, n, "sql"));
            let kind = f
                .take("kind")
                .and_then(|n| choice(ctx, n, "kind"))
                .unwrap_or_default();
            let send_result_to = f
                .take("send_result_to")
                .and_then(|n| name(ctx, n, "alert group name"));
            let bind = f
                .take("bind")
                .and_then(|n| text_list(ctx, n, "bind"))
                .unwrap_or_default();
            let pre = f
                .take("pre")
                .and_then(|n| statements(ctx, n, "pre"))
                .unwrap_or_default();
            let post = f
                .take("post")
                .and_then(|n| statements(ctx, n, "post"))
                .unwrap_or_default();
            let out = f
                .take("out")
                .and_then(|n| param_names(ctx, n, "out"))
                .unwrap_or_default();
            let out_rows = f.take("out_rows").and_then(|n| {
                let rows = param_name(ctx, n, "out_rows")?;
                if out.contains(&rows) {
                    ctx.err(
                        n.pos,
                        format!("`out_rows` {rows:?} is also a column in `out`; use another name"),
                    );
                    return None;
                }
                Some(rows)
            });
            let max_rows = f
                .take("max_rows")
                .and_then(|n| count(ctx, n, "max_rows", 1, MAX_MAX_ROWS))
                .unwrap_or(DEFAULT_MAX_ROWS);
            TaskKind::Sql(SqlTask {
                datasource: datasource?,
                sql: sql?,
                kind,
                send_result_to,
                bind,
                pre,
                post,
                out,
                out_rows,
                max_rows,
            })
        }
        TaskType::Procedure => {
            let datasource = f
                .required(ctx, "datasource", w)
                .and_then(|n| name(ctx, n, "datasource name"));
            let call = f
                .required(ctx, "call", w)
                .and_then(|n| procedure_name(ctx, n, "call"));
            let args = f
                .take("args")
                .and_then(|n| text_list(ctx, n, "args"))
                .unwrap_or_default();
            let out = f
                .take("out")
                .and_then(|n| param_names(ctx, n, "out"))
                .unwrap_or_default();
            TaskKind::Procedure(ProcedureTask {
                datasource: datasource?,
                call: call?,
                args,
                out,
            })
        }
        TaskType::Http => {
            let url = f
                .required(ctx, "url", w)
                .and_then(|n| http_url(ctx, n, "url"));
            let method = f
                .take("method")
                .and_then(|n| {
                    let value = text(ctx, n, "method")?;
                    match value.to_ascii_uppercase().parse::<HttpMethod>() {
                        Ok(m) => Some(m),
                        Err(e) => {
                            ctx.err(n.pos, format!("invalid `method`: {e}"));
                            None
                        }
                    }
                })
                .unwrap_or_default();
            let headers = f
                .take("headers")
                .and_then(|n| text_map(ctx, n, "headers", header_name_problem))
                .unwrap_or_default();
            let body = f.take("body").and_then(|n| text(ctx, n, "body"));
            let expect_status = f.take("expect_status").and_then(|n| expect_status(ctx, n));
            let expect_body_contains = f
                .take("expect_body_contains")
                .and_then(|n| nonempty_text(ctx, n, "expect_body_contains"));
            let request_timeout = f.take("request_timeout").and_then(|n| {
                let limit = duration(ctx, n, "request_timeout")?;
                if limit == Duration::default() {
                    ctx.err(n.pos, "`request_timeout` must be longer than 0");
                    return None;
                }
                Some(limit)
            });
            let out = f
                .take("out")
                .and_then(|n| {
                    text_map_checked(ctx, n, "out", param_name_problem, json_path_problem)
                })
                .unwrap_or_default();
            let follow_redirects = f
                .take("follow_redirects")
                .and_then(|n| flag(ctx, n, "follow_redirects"))
                .unwrap_or(false);
            TaskKind::Http(HttpTask {
                url: url?,
                method,
                headers,
                body,
                expect_status,
                expect_body_contains,
                request_timeout,
                out,
                follow_redirects,
            })
        }
        TaskType::SubProcess => {
            let workflow = f
                .required(ctx, "workflow", w)
                .and_then(|n| workflow_ref(ctx, n, "workflow"));
            TaskKind::SubProcess(SubProcessTask {
                workflow: workflow?,
            })
        }
        TaskType::Dependent => {
            // Every key is taken before anything can end the walk, so that none of them is
            // reported as unknown.
            let all = f.take("all");
            let any = f.take("any");
            let check_interval = f.take("check_interval").and_then(|n| {
                let interval = duration(ctx, n, "check_interval")?;
                if interval < Duration::from_secs(1) {
                    ctx.err(n.pos, "`check_interval` must be at least 1s");
                    return None;
                }
                Some(interval)
            });
            let failure = f
                .take("failure")
                .and_then(|n| choice(ctx, n, "failure"))
                .unwrap_or_default();
            let wait_limit = f
                .take("wait_limit")
                .and_then(|n| duration(ctx, n, "wait_limit"));
            let (op, items_node) = match (all, any) {
                (Some(n), None) => (DependentOp::All, n),
                (None, Some(n)) => (DependentOp::Any, n),
                (Some(_), Some(n)) => {
                    ctx.err(n.pos, "a dependent task takes `all` or `any`, not both");
                    return None;
                }
                (None, None) => {
                    ctx.err(f.pos, "a dependent task needs `all: [...]` or `any: [...]`");
                    return None;
                }
            };
            let items = dependent_entries(ctx, items_node, op.key(), false);
            TaskKind::Dependent(DependentTask {
                op,
                items: items?,
                check_interval,
                failure,
                wait_limit,
            })
        }
        TaskType::Conditions => {
            let mut branch =
                |ctx: &mut Ctx, f: &mut Fields, key: &str| -> Option<Vec<(String, Pos)>> {
                    let Some(node) = f.take(key) else {
                        return Some(Vec::new());
                    };
                    let items = list(ctx, node, key)?;
                    let mut out = Vec::new();
                    for item in items {
                        let task = name(ctx, item, "task name")?;
                        branches.push((task.clone(), item.pos, TaskType::Conditions));
                        out.push((task, item.pos));
                    }
                    Some(out)
                };
            let success = branch(ctx, f, "success");
            let failure = branch(ctx, f, "failure");
            let (success, failure) = (success?, failure?);
            if success.is_empty() && failure.is_empty() {
                ctx.err(
                    f.pos,
                    "a conditions task needs `success: [tasks]` or `failure: [tasks]`",
                );
            }
            for (task, pos) in &failure {
                if success.iter().any(|(t, _)| t == task) {
                    ctx.err(
                        *pos,
                        format!(
                            "task `{task}` is in both `success` and `failure`; a conditions task runs one branch or the other"
                        ),
                    );
                }
            }
            let names = |list: Vec<(String, Pos)>| list.into_iter().map(|(t, _)| t).collect();
            TaskKind::Conditions(ConditionsTask {
                success: names(success),
                failure: names(failure),
            })
        }
        TaskType::Switch => {
            let cases = f
                .required(ctx, "cases", w)
                .and_then(|n| switch_cases(ctx, n, branches));
            let default = f.take("default").and_then(|n| {
                let task = name(ctx, n, "task name")?;
                branches.push((task.clone(), n.pos, TaskType::Switch));
                Some(task)
            });
            TaskKind::Switch(SwitchTask {
                cases: cases?,
                default,
            })
        }
        TaskType::Spark => {
            let main = f
                .required(ctx, "main", w)
                .and_then(|n| nonempty_text(ctx, n, "main"));
            let main_class = f
                .take("main_class")
                .and_then(|n| nonempty_text(ctx, n, "main_class"));
            let master = f
                .take("master")
                .and_then(|n| nonempty_text(ctx, n, "master"));
            let deploy_mode = f
                .take("deploy_mode")
                .and_then(|n| choice(ctx, n, "deploy_mode"));
            let app_name = f
                .take("app_name")
                .and_then(|n| nonempty_text(ctx, n, "app_name"));
            let driver_cores = f
                .take("driver_cores")
                .and_then(|n| count(ctx, n, "driver_cores", 1, MAX_CORES));
            let driver_memory = f
                .take("driver_memory")
                .and_then(|n| memory_size(ctx, n, "driver_memory"));
            let num_executors = f
                .take("num_executors")
                .and_then(|n| count(ctx, n, "num_executors", 1, MAX_EXECUTORS));
            let executor_cores = f
                .take("executor_cores")
                .and_then(|n| count(ctx, n, "executor_cores", 1, MAX_CORES));
            let executor_memory = f
                .take("executor_memory")
                .and_then(|n| memory_size(ctx, n, "executor_memory"));
            let queue = f.take("queue").and_then(|n| nonempty_text(ctx, n, "queue"));
            let args = f
                .take("args")
                .and_then(|n| text_list(ctx, n, "args"))
                .unwrap_or_default();
            let conf = f
                .take("conf")
                .and_then(|n| text_map(ctx, n, "conf", conf_key_problem))
                .unwrap_or_default();
            TaskKind::Spark(SparkTask {
                main: main?,
                main_class,
                master,
                deploy_mode,
                app_name,
                driver_cores,
                driver_memory,
                num_executors,
                executor_cores,
                executor_memory,
                queue,
                args,
                conf,
            })
        }
        TaskType::Mr => {
            let jar = f
                .required(ctx, "jar", w)
                .and_then(|n| nonempty_text(ctx, n, "jar"));
            let main_class = f
                .take("main_class")
                .and_then(|n| nonempty_text(ctx, n, "main_class"));
            let app_name = f
                .take("app_name")
                .and_then(|n| nonempty_text(ctx, n, "app_name"));
            let queue = f.take("queue").and_then(|n| nonempty_text(ctx, n, "queue"));
            let args = f
                .take("args")
                .and_then(|n| text_list(ctx, n, "args"))
                .unwrap_or_default();
            let conf = f
                .take("conf")
                .and_then(|n| text_map(ctx, n, "conf", conf_key_problem))
                .unwrap_or_default();
            TaskKind::Mr(MrTask {
                jar: jar?,
                main_class,
                app_name,
                queue,
                args,
                conf,
            })
        }
        TaskType::Empty => TaskKind::Empty,
    };
    (ctx.errors.len() == start).then_some(kind)
}

fn expect_status(ctx: &mut Ctx, node: &Node) -> Option<ExpectStatus> {
    let code = |ctx: &mut Ctx, n: &Node| {
        integer(
            ctx,
            n,
            "expect_status",
            (*STATUS_CODES.start()).into(),
            (*STATUS_CODES.end()).into(),
        )
        .and_then(|c| u16::try_from(c).ok())
    };
    match &node.value {
        Value::Scalar(s) => match s.ty {
            ScalarType::Int(_) => code(ctx, node).map(|c| ExpectStatus::Codes(vec![c])),
            _ => match ExpectStatus::parse_range(&s.text) {
                Ok(range) => Some(range),
                Err(e) => {
                    ctx.err(node.pos, format!("invalid `expect_status`: {e}"));
                    None
                }
            },
        },
        Value::Seq(items) => {
            if items.is_empty() {
                ctx.err(node.pos, "`expect_status` must list at least one code");
                return None;
            }
            let codes: Vec<Option<u16>> = items.iter().map(|n| code(ctx, n)).collect();
            codes
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(ExpectStatus::Codes)
        }
        _ => {
            ctx.err(
                node.pos,
                format!(
                    "`expect_status` must be a list of codes or a range like \"200-299\", not {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

const DEPENDENT_ITEM_KEYS: &[&str] = &["workflow", "task", "window"];
const DEPENDENT_GROUP_KEYS: &[&str] = &["all", "any"];

/// Whether `node` is a mapping with the text key `key`.
fn has_key(node: &Node, key: &str) -> bool {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Scalar(s) if s.text == key)),
        _ => false,
    }
}

/// The entries of a dependent task's `all`/`any` (`in_group`: of a group's, which may
/// hold only plain items).
fn dependent_entries(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    in_group: bool,
) -> Option<Vec<DependentEntry>> {
    let nodes = list(ctx, node, key)?;
    let start = ctx.errors.len();
    if nodes.is_empty() {
        ctx.err(node.pos, format!("`{key}` must list at least one item"));
    }
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let is_group = DEPENDENT_GROUP_KEYS.iter().any(|k| has_key(n, k));
        let entry = match (is_group, in_group) {
            (false, _) => dependent_item(ctx, n).map(DependentEntry::Item),
            (true, false) => dependent_group(ctx, n),
            (true, true) => {
                ctx.err(
                    n.pos,
                    "groups do not nest: the items of a dependent group must be plain items {workflow, task, window}",
                );
                None
            }
        };
        out.extend(entry);
    }
    (ctx.errors.len() == start).then_some(out)
}

/// `{all: [items]}` or `{any: [items]}` inside a dependent task's `all`/`any`.
fn dependent_group(ctx: &mut Ctx, node: &Node) -> Option<DependentEntry> {
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "a dependent group")?;
    let all = f.take("all");
    let any = f.take("any");
    f.reject_rest(ctx, unknown_key("dependent group", DEPENDENT_GROUP_KEYS));
    let (op, items_node) = match (all, any) {
        (Some(n), None) => (DependentOp::All, n),
        (None, Some(n)) => (DependentOp::Any, n),
        (Some(_), Some(n)) => {
            ctx.err(n.pos, "a dependent group takes `all` or `any`, not both");
            return None;
        }
        (None, None) => {
            ctx.err(
                node.pos,
                "a dependent group needs `all: [...]` or `any: [...]`",
            );
            return None;
        }
    };
    let entries = dependent_entries(ctx, items_node, op.key(), true);
    if ctx.errors.len() > start {
        return None;
    }
    let items = entries?
        .into_iter()
        .filter_map(|e| match e {
            DependentEntry::Item(item) => Some(item),
            DependentEntry::Group { .. } => None,
        })
        .collect();
    Some(DependentEntry::Group { op, items })
}

fn dependent_item(ctx: &mut Ctx, node: &Node) -> Option<DependentItem> {
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "a dependent item")?;
    let workflow = f
        .required(ctx, "workflow", "dependent item")
        .and_then(|n| workflow_ref(ctx, n, "workflow"));
    let task = f.take("task").and_then(|n| name(ctx, n, "task name"));
    let window = f
        .required(ctx, "window", "dependent item")
        .and_then(|n| choice(ctx, n, "window"));
    f.reject_rest(ctx, unknown_key("dependent item", DEPENDENT_ITEM_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(DependentItem {
        workflow: workflow?,
        task,
        window: window?,
    })
}

const SWITCH_CASE_KEYS: &[&str] = &["when", "then"];

fn switch_cases(
    ctx: &mut Ctx,
    node: &Node,
    branches: &mut Vec<(String, Pos, TaskType)>,
) -> Option<Vec<SwitchCase>> {
    let items = list(ctx, node, "cases")?;
    if items.is_empty() {
        ctx.err(node.pos, "`cases` must list at least one case");
        return None;
    }
    let start = ctx.errors.len();
    let mut out = Vec::new();
    for item in items {
        let Some(mut f) = fields(ctx, item, "a switch case") else {
            continue;
        };
        let when = f
            .required(ctx, "when", "switch case")
            .and_then(|n| nonempty_text(ctx, n, "when"));
        let then = f.required(ctx, "then", "switch case").and_then(|n| {
            let task = name(ctx, n, "task name")?;
            branches.push((task.clone(), n.pos, TaskType::Switch));
            Some(task)
        });
        f.reject_rest(ctx, unknown_key("switch case", SWITCH_CASE_KEYS));
        if let (Some(when), Some(then)) = (when, then) {
            out.push(SwitchCase { when, then });
        }
    }
    (ctx.errors.len() == start).then_some(out)
}

// ---- datasource and alert group ----

const DATASOURCE_KEYS: &[&str] = &[
    "kind",
    "project",
    "name",
    "type",
    "url",
    "password_env",
    "password",
    "allow_scheduler_database",
];

fn datasource(ctx: &mut Ctx, mut f: Fields) -> Option<DatasourceSpec> {
    let start = ctx.errors.len();
    const D: &str = "datasource";
    let project = f
        .required(ctx, "project", D)
        .and_then(|n| name(ctx, n, "project name"));
    let ds_name = f
        .required(ctx, "name", D)
        .and_then(|n| name(ctx, n, "datasource name"));
    let db_type: Option<DatasourceType> = f
        .required(ctx, "type", D)
        .and_then(|n| choice(ctx, n, "type"));
    let url = f.required(ctx, "url", D).and_then(|n| {
        let url = nonempty_text(ctx, n, "url")?;
        let schemes: &[&str] = match db_type? {
            DatasourceType::Postgres => &["postgres://", "postgresql://"],
            DatasourceType::Mysql => &["mysql://"],
        };
        if !schemes.iter().any(|s| url.starts_with(s)) {
            ctx.err(
                n.pos,
                format!(
                    "the url of a {} datasource must start with {}",
                    db_type?,
                    schemes.join(" or ")
                ),
            );
            return None;
        }
        Some(url)
    });
    let password_env = f
        .take("password_env")
        .and_then(|n| env_name(ctx, n, "password_env"));
    let password = f.take("password").and_then(|n| text(ctx, n, "password"));
    if password.is_some() && password_env.is_some() {
        let pos = f.source.pos("password");
        ctx.err(pos, "set `password` or `password_env`, not both");
    }
    let allow_scheduler_database = f
        .take("allow_scheduler_database")
        .and_then(|n| flag(ctx, n, "allow_scheduler_database"))
        .unwrap_or(false);
    f.reject_rest(ctx, unknown_key("datasource", DATASOURCE_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(DatasourceSpec {
        allow_scheduler_database,
        project: project?,
        name: ds_name?,
        db_type: db_type?,
        url: url?,
        password_env,
        password,
        source: f.source,
    })
}

const ALERT_GROUP_KEYS: &[&str] = &["kind", "name", "channels"];

fn alert_group(ctx: &mut Ctx, mut f: Fields) -> Option<AlertGroupSpec> {
    let start = ctx.errors.len();
    let group_name = f
        .required(ctx, "name", "alert_group")
        .and_then(|n| name(ctx, n, "alert group name"));
    let channels = f.required(ctx, "channels", "alert_group").and_then(|n| {
        let items = list(ctx, n, "channels")?;
        if items.is_empty() {
            ctx.err(n.pos, "`channels` must list at least one channel");
            return None;
        }
        let channels: Vec<Option<AlertChannel>> = items.iter().map(|c| channel(ctx, c)).collect();
        channels.into_iter().collect::<Option<Vec<_>>>()
    });
    f.reject_rest(ctx, unknown_key("alert_group", ALERT_GROUP_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(AlertGroupSpec {
        name: group_name?,
        channels: channels?,
        source: f.source,
    })
}

const TASK_GROUP_KEYS: &[&str] = &["kind", "name", "size"];

fn task_group(ctx: &mut Ctx, mut f: Fields) -> Option<TaskGroupSpec> {
    let start = ctx.errors.len();
    let group_name = f
        .required(ctx, "name", "task_group")
        .and_then(|n| name(ctx, n, "task group name"));
    let size = f
        .required(ctx, "size", "task_group")
        .and_then(|n| integer(ctx, n, "size", 1, 1_000_000));
    f.reject_rest(ctx, unknown_key("task_group", TASK_GROUP_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(TaskGroupSpec {
        name: group_name?,
        size: size? as u32,
        source: f.source,
    })
}

const TENANT_KEYS: &[&str] = &["kind", "name", "os_user", "projects", "default_for"];

/// An OS user name as `useradd` takes it: `[a-z_][a-z0-9_-]*[$]?`, at most 32 bytes.
fn os_user_problem(user: &str) -> Option<String> {
    let body = user.strip_suffix('$').unwrap_or(user);
    let mut chars = body.chars();
    let ok = user.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    (!ok).then(|| {
        format!("{user:?} is not an OS user name (lower-case letters, digits, `_`, `-`; at most 32 bytes)")
    })
}

fn tenant(ctx: &mut Ctx, mut f: Fields) -> Option<TenantSpec> {
    let start = ctx.errors.len();
    let tenant_name = f
        .required(ctx, "name", "tenant")
        .and_then(|n| name(ctx, n, "tenant name"));
    let os_user = f.required(ctx, "os_user", "tenant").and_then(|n| {
        let user = text(ctx, n, "os_user")?;
        match os_user_problem(&user) {
            None => Some(user),
            Some(problem) => {
                ctx.err(n.pos, format!("`os_user`: {problem}"));
                None
            }
        }
    });
    let projects = project_list(ctx, &mut f, "projects", |_| None);
    // Projects whose workflows that name no tenant run as this one: each must be allowed.
    let default_for = project_list(ctx, &mut f, "default_for", |p| {
        (!projects.as_ref().is_none_or(|all| all.iter().any(|a| a == p))).then(|| {
            format!(
                "project {p} is in `default_for` but not in `projects`: a tenant is the default only of a project allowed to use it"
            )
        })
    });
    f.reject_rest(ctx, unknown_key("tenant", TENANT_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(TenantSpec {
        name: tenant_name?,
        os_user: os_user?,
        projects: projects?,
        default_for: default_for?,
        source: f.source,
    })
}

/// A tenant's list of project names under `key` (empty when absent): each named once, and
/// each passing `refuse` (which says why one may not be listed).
fn project_list(
    ctx: &mut Ctx,
    f: &mut Fields,
    key: &str,
    refuse: impl Fn(&str) -> Option<String>,
) -> Option<Vec<String>> {
    let Some(n) = f.take(key) else {
        return Some(Vec::new());
    };
    list(ctx, n, key).map(|items| {
        let mut out: Vec<String> = Vec::new();
        for item in items {
            if let Some(p) = name(ctx, item, "project name") {
                if out.contains(&p) {
                    ctx.err(item.pos, format!("project {p} is listed twice in `{key}`"));
                } else if let Some(why) = refuse(&p) {
                    ctx.err(item.pos, why);
                } else {
                    out.push(p);
                }
            }
        }
        out
    })
}

const EMAIL_KEYS: &[&str] = &["type", "to", "smtp"];
const WEBHOOK_KEYS: &[&str] = &["type", "url", "headers"];
const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "starttls",
    "tls",
    "from",
    "user",
    "password_env",
    "password",
];

fn channel(ctx: &mut Ctx, node: &Node) -> Option<AlertChannel> {
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "a channel")?;
    let ty = f.required(ctx, "type", "channel").and_then(|n| {
        let value = text(ctx, n, "type")?;
        if value != "email" && value != "webhook" {
            ctx.err(
                n.pos,
                format!("unknown channel type `{value}` (expected one of: email, webhook)"),
            );
            return None;
        }
        Some(value)
    });
    let channel = match ty.as_deref() {
        Some("email") => {
            let to = f.required(ctx, "to", "email channel").and_then(|n| {
                let to = text_list(ctx, n, "to")?;
                if to.is_empty() {
                    ctx.err(n.pos, "`to` must list at least one address");
                    return None;
                }
                if let Some(bad) = to.iter().find(|a| !is_mail_address(a)) {
                    ctx.err(n.pos, format!("{bad:?} is not an email address"));
                    return None;
                }
                Some(to)
            });
            let smtp = f
                .required(ctx, "smtp", "email channel")
                .and_then(|n| smtp(ctx, n));
            f.reject_rest(ctx, unknown_key("email channel", EMAIL_KEYS));
            match (to, smtp) {
                (Some(to), Some(smtp)) => Some(AlertChannel::Email(EmailChannel { to, smtp })),
                _ => None,
            }
        }
        Some(_) => {
            let url = f
                .required(ctx, "url", "webhook channel")
                .and_then(|n| http_url(ctx, n, "url"));
            let headers = f
                .take("headers")
                .and_then(|n| text_map(ctx, n, "headers", header_name_problem))
                .unwrap_or_default();
            f.reject_rest(ctx, unknown_key("webhook channel", WEBHOOK_KEYS));
            url.map(|url| AlertChannel::Webhook(WebhookChannel { url, headers }))
        }
        None => None,
    };
    if ctx.errors.len() > start {
        return None;
    }
    channel
}

fn is_mail_address(text: &str) -> bool {
    match text.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

fn smtp(ctx: &mut Ctx, node: &Node) -> Option<SmtpSpec> {
    let start = ctx.errors.len();
    let mut f = fields(ctx, node, "smtp")?;
    let host = f
        .required(ctx, "host", "smtp")
        .and_then(|n| nonempty_text(ctx, n, "host"));
    let port = f
        .required(ctx, "port", "smtp")
        .and_then(|n| integer(ctx, n, "port", 1, 65535))
        .and_then(|p| u16::try_from(p).ok());
    let starttls = f
        .take("starttls")
        .and_then(|n| flag(ctx, n, "starttls"))
        .unwrap_or(false);
    let tls = f.take("tls").and_then(|n| flag(ctx, n, "tls"));
    if starttls && tls == Some(true) {
        let pos = f.source.pos("tls");
        ctx.err(pos, "set `starttls` or `tls`, not both");
    }
    let from = f.required(ctx, "from", "smtp").and_then(|n| {
        let from = text(ctx, n, "from")?;
        if !is_mail_address(&from) {
            ctx.err(n.pos, format!("{from:?} is not an email address"));
            return None;
        }
        Some(from)
    });
    let user = f.take("user").and_then(|n| nonempty_text(ctx, n, "user"));
    let password_env = f
        .take("password_env")
        .and_then(|n| env_name(ctx, n, "password_env"));
    let password = f.take("password").and_then(|n| text(ctx, n, "password"));
    if password.is_some() && password_env.is_some() {
        let pos = f.source.pos("password");
        ctx.err(pos, "set `password` or `password_env`, not both");
    }
    f.reject_rest(ctx, unknown_key("smtp", SMTP_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(SmtpSpec {
        host: host?,
        port: port?,
        starttls,
        tls,
        from: from?,
        user,
        password_env,
        password,
    })
}

// ---- project variables and secrets (issue 20) ----

/// At most this many variables per project.
pub const MAX_VARIABLES: usize = 500;
/// At most this many bytes in one variable's or secret's value.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

const VARIABLES_KEYS: &[&str] = &["kind", "project", "values"];

fn value_size_problem(value: &str) -> Option<String> {
    (value.len() > MAX_VALUE_BYTES).then(|| format!("is longer than {MAX_VALUE_BYTES} bytes"))
}

fn variables(ctx: &mut Ctx, mut f: Fields) -> Option<VariablesSpec> {
    let start = ctx.errors.len();
    let project = f
        .required(ctx, "project", "variables")
        .and_then(|n| name(ctx, n, "project name"));
    let values = match f.take("values") {
        None => Some(BTreeMap::new()),
        Some(n) => {
            let values = text_map_checked(ctx, n, "values", name_problem, value_size_problem);
            if let Some(v) = &values
                && v.len() > MAX_VARIABLES
            {
                ctx.err(
                    n.pos,
                    format!(
                        "`values` has {} variables; a project may have at most {MAX_VARIABLES}",
                        v.len()
                    ),
                );
            }
            values
        }
    };
    f.reject_rest(ctx, unknown_key("variables", VARIABLES_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(VariablesSpec {
        project: project?,
        values: values?,
        source: f.source,
    })
}

const SECRET_KEYS: &[&str] = &["kind", "project", "name", "value", "value_env"];

fn secret(ctx: &mut Ctx, mut f: Fields) -> Option<SecretSpec> {
    let start = ctx.errors.len();
    const S: &str = "secret";
    let project = f
        .required(ctx, "project", S)
        .and_then(|n| name(ctx, n, "project name"));
    let secret_name = f
        .required(ctx, "name", S)
        .and_then(|n| name(ctx, n, "secret name"));
    let value = f.take("value").and_then(|n| {
        let value = nonempty_text(ctx, n, "value")?;
        if let Some(problem) = value_size_problem(&value) {
            ctx.err(n.pos, format!("`value` {problem}"));
            return None;
        }
        Some(value)
    });
    let value_env = f
        .take("value_env")
        .and_then(|n| env_name(ctx, n, "value_env"));
    let source = match (value, value_env) {
        (Some(v), None) => Some(SecretSource::Value(SecretText(v))),
        (None, Some(e)) => Some(SecretSource::Env(e)),
        (Some(_), Some(_)) => {
            ctx.err(
                f.source.pos("value"),
                "set `value` or `value_env`, not both",
            );
            None
        }
        (None, None) if ctx.errors.len() == start => {
            ctx.err(f.pos, "a secret needs `value` or `value_env`");
            None
        }
        (None, None) => None,
    };
    f.reject_rest(ctx, unknown_key("secret", SECRET_KEYS));
    if ctx.errors.len() > start {
        return None;
    }
    Some(SecretSpec {
        project: project?,
        name: secret_name?,
        value: source?,
        source: f.source,
    })
}
