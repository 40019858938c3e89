//! Reading one export file: JSON with positions for its errors, the format told apart by
//! its keys, and every workflow normalized into [`DsWorkflow`] so that the mapping does not
//! care which DolphinScheduler version wrote it.
//!
//! Formats (the top level is an array of workflows, or one workflow object):
//! - **1.3**: `processDefinitionName`, `projectName` and `processDefinitionJson`, a JSON
//!   *string* holding `{globalParams, tasks, timeout, tenantId}`; tasks are linked by
//!   `preTasks` names; schedules are flat `schedule*` keys.
//! - **2.x–3.2**: `processDefinition`, `taskDefinitionList` (numeric `code`s),
//!   `processTaskRelationList` (`preTaskCode` 0 = a root), `schedule`.
//! - **3.3+**: the same with `workflowDefinition` and `workflowTaskRelationList`.

use serde_json::{Map, Value};

/// Largest export file read.
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;
/// Most workflows in one import, and most tasks in one workflow.
pub const MAX_WORKFLOWS: usize = 10_000;
pub const MAX_TASKS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    V13,
    V2,
    V33,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::V13 => "1.3",
            Format::V2 => "2.x-3.2",
            Format::V33 => "3.3+",
        }
    }
}

/// A problem that stops the reading of a file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One workflow, whatever the format.
#[derive(Debug, Clone)]
pub struct DsWorkflow {
    /// Where the workflow's object starts in its file.
    pub line: usize,
    pub column: usize,
    /// 2.x+: the workflow code; 1.3: none.
    pub code: Option<i64>,
    /// 1.3 batch exports written by some tools carry `processDefinitionId`.
    pub id: Option<i64>,
    pub name: String,
    pub project_name: Option<String>,
    pub project_code: Option<i64>,
    pub description: String,
    pub global_params: Vec<DsParam>,
    /// Minutes; 0 = none.
    pub timeout_minutes: i64,
    pub release: Option<String>,
    pub execution_type: Option<String>,
    pub tenant: Option<String>,
    pub warning_group_id: Option<i64>,
    pub tasks: Vec<DsTask>,
    /// `(pre, post, conditionType)`; `pre` is `None` for a root.
    pub edges: Vec<(Option<String>, String, String)>,
    pub schedule: Option<DsSchedule>,
}

/// One parameter (`prop`, `direct`, `type`, `value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsParam {
    pub prop: String,
    pub direct: String,
    pub ty: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct DsSchedule {
    pub crontab: String,
    pub timezone: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub online: bool,
    pub failure_strategy: Option<String>,
    pub priority: Option<String>,
    pub worker_group: Option<String>,
    pub warning_type: Option<String>,
    pub warning_group_id: Option<i64>,
}

/// One task. `key` is what relations and branches use to name it: the code (2.x+) or the
/// name (1.3).
#[derive(Debug, Clone)]
pub struct DsTask {
    pub key: String,
    pub name: String,
    pub description: String,
    pub task_type: String,
    /// `taskParams` (2.x+) or `params` (1.3, with the task-level `dependence` and
    /// `conditionResult` moved in, as 2.x has them).
    pub params: Map<String, Value>,
    pub run: bool,
    pub priority: Option<String>,
    pub worker_group: Option<String>,
    pub retries: i64,
    /// Minutes.
    pub retry_interval: i64,
    /// `(minutes, strategy)` when the timeout is switched on.
    pub timeout: Option<(i64, String)>,
    /// Minutes.
    pub delay: i64,
    pub task_group_id: i64,
    pub task_group_priority: i64,
    pub environment_code: i64,
    pub resource_ids: String,
    pub cpu_quota: i64,
    pub memory_max: i64,
    pub is_cache: bool,
    pub execute_type: Option<String>,
}

/// Parses one file into its workflows.
pub fn read_file(text: &str) -> Result<(Format, Vec<DsWorkflow>), ReadError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ReadError {
            line: 1,
            column: 1,
            message: format!("file is larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024),
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| ReadError {
        line: e.line().max(1),
        column: e.column().max(1),
        message: format!("not valid JSON: {}", strip_position(&e.to_string())),
    })?;
    let starts = element_starts(text);
    let items: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![&value],
        _ => {
            return Err(ReadError {
                line: 1,
                column: 1,
                message: "not a DolphinScheduler export: expected an array of workflows or one workflow object".into(),
            });
        }
    };
    if items.is_empty() {
        return Err(ReadError {
            line: 1,
            column: 1,
            message: "not a DolphinScheduler export: the array holds no workflow".into(),
        });
    }
    if items.len() > MAX_WORKFLOWS {
        return Err(ReadError {
            line: 1,
            column: 1,
            message: format!("more than {MAX_WORKFLOWS} workflows in one file"),
        });
    }
    let mut format = None;
    let mut workflows = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (line, column) = match &value {
            Value::Array(_) => starts.get(i).copied().unwrap_or((1, 1)),
            _ => (1, 1),
        };
        let at = |message: String| ReadError {
            line,
            column,
            message,
        };
        let Some(obj) = item.as_object() else {
            return Err(at(
                "not a DolphinScheduler export: a workflow entry is not an object".into(),
            ));
        };
        let this = detect(obj).ok_or_else(|| {
            at(format!(
                "not a DolphinScheduler export: a workflow needs `processDefinitionJson` (1.3), `processDefinition` (2.x-3.2) or `workflowDefinition` (3.3+); found keys {}",
                key_list(obj)
            ))
        })?;
        if let Some(first) = format
            && first != this
        {
            return Err(at(format!(
                "this entry is in the {} format but the file started in the {} format",
                this.label(),
                Format::label(first)
            )));
        }
        format = Some(this);
        let mut workflow = match this {
            Format::V13 => read_v13(obj).map_err(at)?,
            Format::V2 | Format::V33 => read_v2(obj, this).map_err(at)?,
        };
        workflow.line = line;
        workflow.column = column;
        workflows.push(workflow);
    }
    Ok((format.unwrap_or(Format::V2), workflows))
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn key_list(obj: &Map<String, Value>) -> String {
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
    keys.sort();
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

fn detect(obj: &Map<String, Value>) -> Option<Format> {
    if obj.contains_key("processDefinitionJson") {
        Some(Format::V13)
    } else if obj.contains_key("workflowDefinition") {
        Some(Format::V33)
    } else if obj.contains_key("processDefinition") {
        Some(Format::V2)
    } else {
        None
    }
}

/// 1-based (line, column) of each element of a top-level JSON array (empty when the top
/// level is not an array). The text is valid JSON when this is called.
fn element_starts(text: &str) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expect_element = false;
    let (mut line, mut column) = (1usize, 0usize);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if expect_element && depth == 1 && c != ']' {
            starts.push((line, column));
            expect_element = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 && c == '[' {
                    expect_element = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect_element = true,
            _ => {}
        }
    }
    starts
}

// Readers of loosely typed values: DolphinScheduler writes numbers as strings in places
// ("maxRetryTimes": "0"), and null for anything not set.

pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string_or_empty(obj: &Map<String, Value>, key: &str) -> String {
    text(obj.get(key)).unwrap_or_default()
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// A JSON value that may also be given as a string holding JSON (`globalParams`,
/// `taskParams` in some versions, 1.3's `processDefinitionJson`).
fn embedded(v: Option<&Value>, what: &str) -> Result<Option<Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|e| {
            format!(
                "`{what}` is a string that does not hold valid JSON ({}, line {} column {} of the string)",
                strip_position(&e.to_string()),
                e.line(),
                e.column()
            )
        }),
        Some(other) => Ok(Some(other.clone())),
    }
}

pub fn params_list(v: Option<&Value>) -> Vec<DsParam> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|p| {
            let p = p.as_object()?;
            let prop = text(p.get("prop"))?;
            if prop.trim().is_empty() {
                return None;
            }
            Some(DsParam {
                prop,
                direct: text(p.get("direct")).unwrap_or_else(|| "IN".into()),
                ty: text(p.get("type")).unwrap_or_else(|| "VARCHAR".into()),
                value: text(p.get("value")).unwrap_or_default(),
            })
        })
        .collect()
}

fn read_v13(obj: &Map<String, Value>) -> Result<DsWorkflow, String> {
    let name = nonempty(text(obj.get("processDefinitionName")))
        .ok_or("a 1.3 workflow needs `processDefinitionName`")?;
    let json = embedded(obj.get("processDefinitionJson"), "processDefinitionJson")?
        .ok_or("`processDefinitionJson` is empty")?;
    let json = json
        .as_object()
        .ok_or("`processDefinitionJson` does not hold an object")?;
    let Some(Value::Array(raw_tasks)) = json.get("tasks") else {
        return Err("`processDefinitionJson` has no `tasks` list".into());
    };
    if raw_tasks.len() > MAX_TASKS {
        return Err(format!("more than {MAX_TASKS} tasks in one workflow"));
    }
    let mut tasks = Vec::new();
    let mut edges = Vec::new();
    for raw in raw_tasks {
        let t = raw.as_object().ok_or("a task is not an object")?;
        let task_name =
            nonempty(text(t.get("name"))).ok_or("a task of `processDefinitionJson` has no name")?;
        let mut params = match embedded(t.get("params"), "params")? {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for key in ["dependence", "conditionResult"] {
            if let Some(v) = t.get(key)
                && !params.contains_key(key)
            {
                params.insert(key.to_string(), v.clone());
            }
        }
        let timeout = t.get("timeout").and_then(Value::as_object).and_then(|o| {
            let enabled = o.get("enable").and_then(Value::as_bool).unwrap_or(false);
            enabled.then(|| {
                (
                    int(o.get("interval")).unwrap_or(0),
                    text(o.get("strategy")).unwrap_or_default(),
                )
            })
        });
        let pre: Vec<String> = match t.get("preTasks") {
            Some(Value::Array(p)) => p.iter().filter_map(|v| nonempty(text(Some(v)))).collect(),
            _ => Vec::new(),
        };
        if pre.is_empty() {
            edges.push((None, task_name.clone(), "NONE".to_string()));
        }
        for p in pre {
            edges.push((Some(p), task_name.clone(), "NONE".to_string()));
        }
        tasks.push(DsTask {
            key: task_name.clone(),
            name: task_name,
            description: string_or_empty(t, "description"),
            task_type: string_or_empty(t, "type").to_ascii_uppercase(),
            params,
            run: text(t.get("runFlag")).is_none_or(|f| !f.eq_ignore_ascii_case("FORBIDDEN")),
            priority: nonempty(text(t.get("taskInstancePriority"))),
            worker_group: nonempty(text(t.get("workerGroup"))),
            retries: int(t.get("maxRetryTimes")).unwrap_or(0),
            retry_interval: int(t.get("retryInterval")).unwrap_or(1),
            timeout,
            delay: int(t.get("delayTime")).unwrap_or(0),
            task_group_id: int(t.get("taskGroupId")).unwrap_or(0),
            task_group_priority: int(t.get("taskGroupPriority")).unwrap_or(0),
            environment_code: int(t.get("environmentCode")).unwrap_or(-1),
            resource_ids: String::new(),
            cpu_quota: -1,
            memory_max: -1,
            is_cache: false,
            execute_type: None,
        });
    }
    let schedule = nonempty(text(obj.get("scheduleCrontab"))).map(|crontab| DsSchedule {
        crontab,
        timezone: nonempty(text(obj.get("scheduleTimezoneId"))),
        start: nonempty(text(obj.get("scheduleStartTime"))),
        end: nonempty(text(obj.get("scheduleEndTime"))),
        online: text(obj.get("scheduleReleaseState")).is_some_and(|s| s == "ONLINE"),
        failure_strategy: nonempty(text(obj.get("scheduleFailureStrategy"))),
        priority: nonempty(text(obj.get("scheduleProcessInstancePriority"))),
        worker_group: nonempty(text(obj.get("scheduleWorkerGroupName"))),
        warning_type: nonempty(text(obj.get("scheduleWarningType"))),
        warning_group_id: int(obj.get("scheduleWarningGroupId")),
    });
    Ok(DsWorkflow {
        line: 0,
        column: 0,
        code: None,
        id: int(obj.get("processDefinitionId")),
        name,
        project_name: nonempty(text(obj.get("projectName"))),
        project_code: None,
        description: string_or_empty(obj, "processDefinitionDescription"),
        global_params: params_list(json.get("globalParams")),
        timeout_minutes: int(json.get("timeout")).unwrap_or(0),
        release: None,
        execution_type: None,
        tenant: int(json.get("tenantId"))
            .filter(|id| *id > 0)
            .map(|id| format!("tenant id {id}")),
        warning_group_id: None,
        tasks,
        edges,
        schedule,
    })
}

fn read_v2(obj: &Map<String, Value>, format: Format) -> Result<DsWorkflow, String> {
    let (def_key, rel_key) = match format {
        Format::V33 => ("workflowDefinition", "workflowTaskRelationList"),
        _ => ("processDefinition", "processTaskRelationList"),
    };
    let def = obj
        .get(def_key)
        .and_then(Value::as_object)
        .ok_or_else(|| format!("`{def_key}` is not an object"))?;
    let name = nonempty(text(def.get("name"))).ok_or_else(|| format!("`{def_key}` has no name"))?;
    let code = int(def.get("code")).ok_or_else(|| format!("`{def_key}` has no code"))?;
    let global_params = match embedded(def.get("globalParams"), "globalParams")? {
        Some(v @ Value::Array(_)) => params_list(Some(&v)),
        _ => params_list(def.get("globalParamList")),
    };
    let Some(Value::Array(raw_tasks)) = obj.get("taskDefinitionList") else {
        return Err("no `taskDefinitionList` list".into());
    };
    if raw_tasks.len() > MAX_TASKS {
        return Err(format!("more than {MAX_TASKS} tasks in one workflow"));
    }
    let mut tasks = Vec::new();
    for raw in raw_tasks {
        let t = raw
            .as_object()
            .ok_or("a task definition is not an object")?;
        let task_code = int(t.get("code")).ok_or("a task definition has no code")?;
        let task_name = nonempty(text(t.get("name")))
            .ok_or_else(|| format!("task definition {task_code} has no name"))?;
        let params = match embedded(t.get("taskParams"), "taskParams")? {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let timeout = text(t.get("timeoutFlag"))
            .is_some_and(|f| f == "OPEN")
            .then(|| {
                (
                    int(t.get("timeout")).unwrap_or(0),
                    text(t.get("timeoutNotifyStrategy")).unwrap_or_default(),
                )
            });
        tasks.push(DsTask {
            key: task_code.to_string(),
            name: task_name,
            description: string_or_empty(t, "description"),
            task_type: string_or_empty(t, "taskType").to_ascii_uppercase(),
            params,
            run: text(t.get("flag")).is_none_or(|f| f != "NO"),
            priority: nonempty(text(t.get("taskPriority"))),
            worker_group: nonempty(text(t.get("workerGroup"))),
            retries: int(t.get("failRetryTimes")).unwrap_or(0),
            retry_interval: int(t.get("failRetryInterval")).unwrap_or(1),
            timeout,
            delay: int(t.get("delayTime")).unwrap_or(0),
            task_group_id: int(t.get("taskGroupId")).unwrap_or(0),
            task_group_priority: int(t.get("taskGroupPriority")).unwrap_or(0),
            environment_code: int(t.get("environmentCode")).unwrap_or(-1),
            resource_ids: text(t.get("resourceIds")).unwrap_or_default(),
            cpu_quota: int(t.get("cpuQuota")).unwrap_or(-1),
            memory_max: int(t.get("memoryMax")).unwrap_or(-1),
            is_cache: text(t.get("isCache")).is_some_and(|c| c == "YES"),
            execute_type: nonempty(text(t.get("taskExecuteType"))),
        });
    }
    let mut edges = Vec::new();
    if let Some(Value::Array(rels)) = obj.get(rel_key) {
        for rel in rels {
            let Some(r) = rel.as_object() else {
                return Err(format!("an entry of `{rel_key}` is not an object"));
            };
            let post = int(r.get("postTaskCode"))
                .ok_or_else(|| format!("an entry of `{rel_key}` has no postTaskCode"))?;
            let pre = int(r.get("preTaskCode")).unwrap_or(0);
            edges.push((
                (pre != 0).then(|| pre.to_string()),
                post.to_string(),
                text(r.get("conditionType")).unwrap_or_else(|| "NONE".into()),
            ));
        }
    }
    let schedule = match obj.get("schedule") {
        Some(Value::Object(s)) => nonempty(text(s.get("crontab"))).map(|crontab| DsSchedule {
            crontab,
            timezone: nonempty(text(s.get("timezoneId"))),
            start: nonempty(text(s.get("startTime"))),
            end: nonempty(text(s.get("endTime"))),
            online: text(s.get("releaseState")).is_some_and(|r| r == "ONLINE"),
            failure_strategy: nonempty(text(s.get("failureStrategy"))),
            priority: nonempty(text(s.get("processInstancePriority"))),
            worker_group: nonempty(text(s.get("workerGroup"))),
            warning_type: nonempty(text(s.get("warningType"))),
            warning_group_id: int(s.get("warningGroupId")),
        }),
        _ => None,
    };
    Ok(DsWorkflow {
        line: 0,
        column: 0,
        code: Some(code),
        id: None,
        name,
        project_name: nonempty(text(def.get("projectName"))),
        project_code: int(def.get("projectCode")),
        description: string_or_empty(def, "description"),
        global_params,
        timeout_minutes: int(def.get("timeout")).unwrap_or(0),
        release: nonempty(text(def.get("releaseState"))),
        execution_type: nonempty(text(def.get("executionType"))),
        tenant: nonempty(text(def.get("tenantCode"))).filter(|t| t != "default"),
        warning_group_id: int(def.get("warningGroupId")).filter(|id| *id > 0),
        tasks,
        edges,
        schedule,
    })
}
