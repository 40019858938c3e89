//! One DolphinScheduler task's type and parameters → a pgdag task kind and its local
//! params. Anything that cannot be carried is returned as an [`Issue`] naming the field;
//! the caller decides whether that stops the import or becomes a failing shell task.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::names;
use super::read::{DsParam, DsTask, int, params_list, text};
use super::report::EntryKind;
use crate::model::Duration;
use crate::spec::{
    ConditionsTask, DatasourceType, DependentEntry, DependentFailure, DependentItem, DependentOp,
    DependentTask, DependentWindow, ExpectStatus, HttpMethod, HttpTask, MrTask, ParamMap,
    ProcedureTask, ScriptTask, SqlKind, SqlTask, SubProcessTask, SwitchCase, SwitchTask, TaskKind,
};

/// A field of a task that pgdag cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub message: String,
}

fn issue(field: &str, message: impl Into<String>) -> Issue {
    Issue {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A workflow another task may point at (sub_process, dependent), as imported.
#[derive(Debug, Clone)]
pub struct Target {
    pub project: String,
    pub name: String,
    /// Task key (code, or 1.3 name) → pgdag task name.
    pub tasks_by_key: HashMap<String, String>,
    /// Original task name → pgdag task name.
    pub tasks_by_name: HashMap<String, String>,
}

/// Every workflow of the import, findable by how DolphinScheduler refers to it.
#[derive(Debug, Default)]
pub struct Index {
    pub targets: Vec<Target>,
    pub by_code: HashMap<i64, usize>,
    /// 1.3 `processDefinitionId`, per file and over all files.
    pub by_file_id: HashMap<(String, i64), usize>,
    pub by_id: HashMap<i64, Vec<usize>>,
    /// 1.3: (original project name, original workflow name).
    pub by_name: HashMap<(String, String), usize>,
}

/// What converting one task needs to know about its surroundings.
pub struct TaskCx<'a> {
    pub file: &'a str,
    pub project: &'a str,
    /// `--project`, when given.
    pub forced_project: Option<&'a str>,
    /// This workflow's task keys → pgdag names.
    pub keys: &'a HashMap<String, String>,
    /// Keys of the task's predecessors.
    pub preds: Vec<String>,
    pub index: &'a Index,
    /// Report lines about this task.
    pub notes: Vec<(EntryKind, String)>,
    /// Datasources the task uses: (name, type, where the name came from).
    pub datasources: Vec<(String, DatasourceType, String)>,
}

impl TaskCx<'_> {
    fn note(&mut self, kind: EntryKind, text: impl Into<String>) {
        self.notes.push((kind, text.into()));
    }

    fn workflow_ref(&self, target: &Target) -> String {
        if target.project == self.project {
            target.name.clone()
        } else {
            format!("{}/{}", target.project, target.name)
        }
    }

    fn branch_target(&self, key: &str, field: &str) -> Result<String, Issue> {
        self.keys.get(key).cloned().ok_or_else(|| {
            issue(
                field,
                format!("names task {key}, which is not in this workflow"),
            )
        })
    }
}

/// The pgdag kind and local params of `task`.
pub fn convert(cx: &mut TaskCx, task: &DsTask) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let p = &task.params;
    let mut issues = common_issues(task);
    let local = params_list(p.get("localParams"));
    let converted = match task.task_type.as_str() {
        "SHELL" | "PYTHON" => script(task, &local, cx),
        "SQL" => sql(cx, p, &local),
        "PROCEDURE" => procedure(cx, p, &local),
        "HTTP" => http(cx, p, &local),
        "SUB_PROCESS" => sub_process(cx, p).map(|k| (k, in_params(cx, &local))),
        "DEPENDENT" => dependent(cx, task).map(|k| (k, in_params(cx, &local))),
        "CONDITIONS" => conditions(cx, p).map(|k| (k, in_params(cx, &local))),
        "SWITCH" => switch(cx, p).map(|k| (k, in_params(cx, &local))),
        "SPARK" => spark(cx, p, &local),
        "MR" => mr(cx, p, &local),
        other => Err(vec![issue(
            "taskType",
            format!(
                "{} tasks have no pgdag equivalent",
                if other.is_empty() { "untyped" } else { other }
            ),
        )]),
    };
    match converted {
        Ok(result) if issues.is_empty() => Ok(result),
        Ok(_) => Err(issues),
        Err(more) => {
            issues.extend(more);
            Err(issues)
        }
    }
}

/// Fields any task may have that pgdag cannot carry.
fn common_issues(task: &DsTask) -> Vec<Issue> {
    let mut issues = Vec::new();
    let resources = match task.params.get("resourceList") {
        Some(Value::Array(list)) => list.len(),
        _ => 0,
    };
    if resources > 0 || !task.resource_ids.trim().is_empty() {
        issues.push(issue(
            "resourceList",
            "uses files of DolphinScheduler's resource center: put them on the workers (or in the script) and refer to them by path",
        ));
    }
    if task.environment_code > 0 {
        issues.push(issue(
            "environmentCode",
            format!(
                "runs in DolphinScheduler environment {}: pgdag has no environments; set what it exports in the script",
                task.environment_code
            ),
        ));
    }
    if task.cpu_quota > 0 || task.memory_max > 0 {
        issues.push(issue(
            "cpuQuota/memoryMax",
            "CPU and memory limits have no pgdag equivalent",
        ));
    }
    if task.is_cache {
        issues.push(issue(
            "isCache",
            "task result caching has no pgdag equivalent",
        ));
    }
    if task
        .execute_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("BATCH"))
    {
        issues.push(issue(
            "taskExecuteType",
            "stream tasks have no pgdag equivalent",
        ));
    }
    issues
}

/// IN local params as pgdag params; OUT ones are noted (pgdag takes out params from what
/// the task prints, without a declaration).
fn in_params(cx: &mut TaskCx, local: &[DsParam]) -> ParamMap {
    let mut params = ParamMap::new();
    for param in local {
        note_type(cx, param);
        if param.direct.eq_ignore_ascii_case("OUT") {
            cx.note(
                EntryKind::Default,
                format!(
                    "OUT param {} is not declared in pgdag: a task sets it by printing ${{setValue({}=...)}}",
                    param.prop, param.prop
                ),
            );
        } else {
            params.insert(param.prop.clone(), param.value.clone());
        }
    }
    params
}

fn note_type(cx: &mut TaskCx, param: &DsParam) {
    if !param.ty.eq_ignore_ascii_case("VARCHAR") && !param.ty.is_empty() {
        cx.note(
            EntryKind::Default,
            format!(
                "param {} of type {} is carried as text",
                param.prop, param.ty
            ),
        );
    }
}

fn script(
    task: &DsTask,
    local: &[DsParam],
    cx: &mut TaskCx,
) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let script = text(task.params.get("rawScript")).unwrap_or_default();
    let params = in_params(cx, local);
    let body = ScriptTask { script };
    Ok(if task.task_type == "SHELL" {
        (TaskKind::Shell(body), params)
    } else {
        (TaskKind::Python(body), params)
    })
}

/// The datasource of a sql or procedure task: its pgdag name and type.
fn datasource(cx: &mut TaskCx, p: &Map<String, Value>) -> Result<String, Vec<Issue>> {
    let ds_type = text(p.get("type")).unwrap_or_default().to_ascii_uppercase();
    let db_type = match ds_type.as_str() {
        "POSTGRESQL" => DatasourceType::Postgres,
        "MYSQL" => DatasourceType::Mysql,
        other => {
            return Err(vec![issue(
                "type",
                format!(
                    "{} datasources have no pgdag equivalent (pgdag runs sql on PostgreSQL and MySQL/MariaDB)",
                    if other.is_empty() { "untyped" } else { other }
                ),
            )]);
        }
    };
    let (name, origin) = match text(p.get("datasourceName")).filter(|n| !n.trim().is_empty()) {
        Some(original) => {
            let name = names::derive(&original, "datasource");
            (name, format!("DolphinScheduler datasource {original:?}"))
        }
        None => {
            let id = int(p.get("datasource")).ok_or_else(|| {
                vec![issue(
                    "datasource",
                    "names no datasource (neither datasourceName nor an id)",
                )]
            })?;
            (
                format!("{}_{id}", ds_type.to_ascii_lowercase()),
                format!("DolphinScheduler datasource id {id} (the export holds only its id)"),
            )
        }
    };
    cx.datasources.push((name.clone(), db_type, origin));
    Ok(name)
}

fn sql(
    cx: &mut TaskCx,
    p: &Map<String, Value>,
    local: &[DsParam],
) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let mut issues = Vec::new();
    let ds = match datasource(cx, p) {
        Ok(ds) => Some(ds),
        Err(e) => {
            issues.extend(e);
            None
        }
    };
    if text(p.get("udfs")).is_some_and(|u| !u.trim().is_empty()) {
        issues.push(issue("udfs", "UDF functions have no pgdag equivalent"));
    }
    if p.get("sendEmail").and_then(Value::as_bool) == Some(true) {
        issues.push(issue(
            "sendEmail",
            "mailing the result needs a pgdag alert group: set send_result_to by hand",
        ));
    }
    if text(p.get("segmentSeparator")).is_some_and(|s| !s.is_empty()) {
        issues.push(issue(
            "segmentSeparator",
            "a custom statement separator has no pgdag equivalent",
        ));
    }
    let kind = match text(p.get("sqlType")).as_deref().map(str::trim) {
        Some("1") => SqlKind::Statement,
        _ => SqlKind::Query,
    };
    let mut pre = statements(p.get("preStatements"));
    let post = statements(p.get("postStatements"));
    let raw = text(p.get("sql")).unwrap_or_default();
    let mut parts = split_statements(&raw);
    if parts.is_empty() {
        issues.push(issue("sql", "is empty"));
    }
    let sql = parts.pop().unwrap_or_default();
    if !parts.is_empty() {
        cx.note(
            EntryKind::Default,
            format!(
                "the sql held {} statements: the first {} run as `pre` statements, in the same transaction",
                parts.len() + 1,
                parts.len()
            ),
        );
        pre.extend(parts);
    }
    let mut params = ParamMap::new();
    let mut out = Vec::new();
    for param in local {
        note_type(cx, param);
        if param.direct.eq_ignore_ascii_case("OUT") {
            out.push(param.prop.clone());
        } else {
            params.insert(param.prop.clone(), param.value.clone());
        }
    }
    if !out.is_empty() && kind == SqlKind::Statement {
        issues.push(issue(
            "localParams",
            "OUT params on a non-query sql task have no pgdag equivalent",
        ));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok((
        TaskKind::Sql(SqlTask {
            datasource: ds.unwrap_or_default(),
            sql,
            kind,
            send_result_to: None,
            bind: Vec::new(),
            pre,
            post,
            out,
            out_rows: None,
            max_rows: crate::spec::DEFAULT_MAX_ROWS,
        }),
        params,
    ))
}

fn statements(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|s| text(Some(s)))
            .flat_map(|s| split_statements(&s))
            .collect(),
        _ => Vec::new(),
    }
}

/// Splits SQL text at top-level `;`, outside quotes and comments. Text with dollar quoting
/// (`$$`, `$tag$`) is kept whole. Blank statements (and those holding only comments) are
/// dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let keep_whole = |s: &str| {
        let t = s.trim().trim_end_matches(';').trim_end().to_string();
        if has_code(&t) { vec![t] } else { Vec::new() }
    };
    if sql.contains("$$") || sql.contains("$body$") || sql.contains("$function$") {
        return keep_whole(sql);
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                current.push(c);
                i += 1;
                while i < chars.len() {
                    current.push(chars[i]);
                    if chars[i] == c {
                        break;
                    }
                    i += 1;
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    current.push(chars[i]);
                    i += 1;
                }
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                current.push_str("/*");
                i += 2;
                while i < chars.len() {
                    current.push(chars[i]);
                    if chars[i] == '/' && current.ends_with("*/") && current.len() > 3 {
                        break;
                    }
                    i += 1;
                }
            }
            ';' => {
                parts.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
        i += 1;
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| has_code(s))
        .collect()
}

/// Whether SQL text holds anything besides whitespace and comments.
fn has_code(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return !rest.is_empty();
        }
    }
}

fn procedure(
    cx: &mut TaskCx,
    p: &Map<String, Value>,
    local: &[DsParam],
) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let ds = datasource(cx, p)?;
    let method = text(p.get("method")).unwrap_or_default();
    let trimmed = method
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim();
    let trimmed = trimmed
        .strip_prefix("call ")
        .or_else(|| trimmed.strip_prefix("CALL "))
        .unwrap_or(trimmed)
        .trim();
    let name = trimmed.split('(').next().unwrap_or("").trim().to_string();
    let valid = !name.is_empty()
        && name.split('.').count() <= 2
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !valid {
        return Err(vec![issue(
            "method",
            format!("{method:?} is not a procedure call pgdag can carry (name or schema.name)"),
        )]);
    }
    let mut args = Vec::new();
    let mut out = Vec::new();
    for param in local {
        note_type(cx, param);
        if param.direct.eq_ignore_ascii_case("OUT") {
            out.push(param.prop.clone());
        } else {
            args.push(param.value.clone());
        }
    }
    if !args.is_empty() || !out.is_empty() {
        cx.note(
            EntryKind::Default,
            "procedure params: IN values became `args` and OUT params `out`, in their order; pgdag passes all IN arguments before the OUT ones",
        );
    }
    Ok((
        TaskKind::Procedure(ProcedureTask {
            datasource: ds,
            call: name,
            args,
            out,
        }),
        ParamMap::new(),
    ))
}

fn http(
    cx: &mut TaskCx,
    p: &Map<String, Value>,
    local: &[DsParam],
) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let mut issues = Vec::new();
    let mut url = text(p.get("url")).unwrap_or_default();
    if url.trim().is_empty() {
        issues.push(issue("url", "is empty"));
    }
    let method_text = text(p.get("httpMethod"))
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    let method = match method_text.parse::<HttpMethod>() {
        Ok(m) => m,
        Err(_) => {
            issues.push(issue(
                "httpMethod",
                format!("{method_text} is not a method pgdag sends"),
            ));
            HttpMethod::Get
        }
    };
    let mut headers = BTreeMap::new();
    let mut query = Vec::new();
    let mut body_fields = serde_json::Map::new();
    if let Some(Value::Array(list)) = p.get("httpParams") {
        for item in list {
            let Some(o) = item.as_object() else { continue };
            let prop = text(o.get("prop")).unwrap_or_default();
            let value = text(o.get("value")).unwrap_or_default();
            match text(o.get("httpParametersType")).as_deref() {
                Some("HEADERS") => {
                    headers.insert(prop, value);
                }
                Some("BODY") => {
                    body_fields.insert(prop, Value::String(value));
                }
                _ => query.push(format!("{}={}", query_escape(&prop), query_escape(&value))),
            }
        }
    }
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
        cx.note(
            EntryKind::Default,
            "PARAMETER http params were appended to the url as its query string",
        );
    }
    let mut body = text(p.get("httpBody")).filter(|b| !b.trim().is_empty());
    if !body_fields.is_empty() {
        if body.is_some() {
            issues.push(issue(
                "httpParams",
                "BODY params beside an httpBody have no pgdag equivalent",
            ));
        }
        body = Some(Value::Object(body_fields).to_string());
        cx.note(
            EntryKind::Default,
            "BODY http params became a JSON object body",
        );
    }
    let condition = text(p.get("condition")).unwrap_or_default();
    let (expect_status, expect_body_contains) = match text(p.get("httpCheckCondition"))
        .as_deref()
        .unwrap_or("STATUS_CODE_DEFAULT")
    {
        "STATUS_CODE_DEFAULT" => (Some(ExpectStatus::Codes(vec![200])), None),
        "STATUS_CODE_CUSTOM" => match condition.trim().parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => {
                (Some(ExpectStatus::Codes(vec![code])), None)
            }
            _ => {
                issues.push(issue(
                    "condition",
                    format!("{condition:?} is not one HTTP status code"),
                ));
                (None, None)
            }
        },
        "BODY_CONTAINS" if !condition.is_empty() => (None, Some(condition.clone())),
        other => {
            issues.push(issue(
                "httpCheckCondition",
                format!("{other} has no pgdag equivalent"),
            ));
            (None, None)
        }
    };
    let connect = int(p.get("connectTimeout")).unwrap_or(60_000).max(0) as u64;
    let socket = int(p.get("socketTimeout")).unwrap_or(60_000).max(0) as u64;
    let request_timeout = Some(Duration::from_millis(
        connect.saturating_add(socket).max(1000),
    ));
    if !issues.is_empty() {
        return Err(issues);
    }
    let params = in_params(cx, local);
    Ok((
        TaskKind::Http(HttpTask {
            url,
            method,
            headers,
            body,
            expect_status,
            expect_body_contains,
            request_timeout,
            out: BTreeMap::new(),
            follow_redirects: false,
        }),
        params,
    ))
}

fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '&' => out.push_str("%26"),
            '=' => out.push_str("%3D"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            '+' => out.push_str("%2B"),
            _ => out.push(c),
        }
    }
    out
}

fn sub_process(cx: &mut TaskCx, p: &Map<String, Value>) -> Result<TaskKind, Vec<Issue>> {
    let target = if let Some(code) =
        int(p.get("processDefinitionCode")).or_else(|| int(p.get("workflowDefinitionCode")))
    {
        cx.index.by_code.get(&code).copied().ok_or_else(|| {
            vec![issue(
                "processDefinitionCode",
                format!(
                    "runs workflow code {code}, which is not among the files imported: import its export together with this one"
                ),
            )]
        })?
    } else if let Some(id) = int(p.get("processDefinitionId")) {
        let by_file = cx.index.by_file_id.get(&(cx.file.to_string(), id)).copied();
        let anywhere = match cx.index.by_id.get(&id).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        };
        by_file.or(anywhere).ok_or_else(|| {
            vec![issue(
                "processDefinitionId",
                format!(
                    "runs workflow id {id}, which no imported workflow carries (1.3 exports name sub-processes by database id only)"
                ),
            )]
        })?
    } else {
        return Err(vec![issue(
            "processDefinitionCode",
            "names no workflow to run",
        )]);
    };
    let target = &cx.index.targets[target];
    Ok(TaskKind::SubProcess(SubProcessTask {
        workflow: cx.workflow_ref(target),
    }))
}

fn window(date_value: &str) -> Option<DependentWindow> {
    use DependentWindow::*;
    Some(match date_value {
        "currentHour" => CurrentHour,
        "last1Hour" => Last1Hour,
        "last2Hours" => Last2Hours,
        "last3Hours" => Last3Hours,
        "last24Hours" => Last24Hours,
        "today" => Today,
        "last1Days" => Last1Days,
        "last2Days" => Last2Days,
        "last3Days" => Last3Days,
        "last4Days" => Last4Days,
        "last5Days" => Last5Days,
        "last6Days" => Last6Days,
        "last7Days" => Last7Days,
        "thisWeek" => ThisWeek,
        "lastWeek" => LastWeek,
        "lastMonday" => LastMonday,
        "lastTuesday" => LastTuesday,
        "lastWednesday" => LastWednesday,
        "lastThursday" => LastThursday,
        "lastFriday" => LastFriday,
        "lastSaturday" => LastSaturday,
        "lastSunday" => LastSunday,
        "thisMonth" => ThisMonth,
        "lastMonth" => LastMonth,
        "lastMonthBegin" => LastMonthBegin,
        "lastMonthEnd" => LastMonthEnd,
        _ => return None,
    })
}

fn relation(v: Option<&Value>) -> Result<DependentOp, Issue> {
    match text(v).as_deref().unwrap_or("AND") {
        "AND" => Ok(DependentOp::All),
        "OR" => Ok(DependentOp::Any),
        other => Err(issue(
            "dependence.relation",
            format!("{other:?} is not AND or OR"),
        )),
    }
}

/// A `dependTaskList` entry: its `relation` and its items.
type Group<'a> = (Option<&'a Value>, Vec<&'a Map<String, Value>>);

fn dependence_groups(p: &Map<String, Value>) -> Vec<Group<'_>> {
    let Some(dep) = p.get("dependence").and_then(Value::as_object) else {
        return Vec::new();
    };
    let Some(Value::Array(groups)) = dep.get("dependTaskList") else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(Value::as_object)
        .map(|g| {
            let items = match g.get("dependItemList") {
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
                _ => Vec::new(),
            };
            (g.get("relation"), items)
        })
        .filter(|(_, items)| !items.is_empty())
        .collect()
}

fn dependent_item(cx: &TaskCx, item: &Map<String, Value>) -> Result<DependentItem, Issue> {
    let date_value = text(item.get("dateValue")).unwrap_or_default();
    let window = window(&date_value).ok_or_else(|| {
        issue(
            "dependence.dateValue",
            format!("{date_value:?} has no pgdag window"),
        )
    })?;
    if item.get("parameterPassing").and_then(Value::as_bool) == Some(true) {
        return Err(issue(
            "dependence.parameterPassing",
            "passing the dependency's parameters has no pgdag equivalent",
        ));
    }
    if let Some(code) =
        int(item.get("definitionCode")).or_else(|| int(item.get("workflowDefinitionCode")))
    {
        let target = cx.index.by_code.get(&code).map(|&i| &cx.index.targets[i]).ok_or_else(|| {
            issue(
                "dependence.definitionCode",
                format!(
                    "waits for workflow code {code} (project code {}), which is not among the files imported: import its export together with this one",
                    int(item.get("projectCode")).map_or("?".to_string(), |c| c.to_string())
                ),
            )
        })?;
        let task = match int(item.get("depTaskCode")).unwrap_or(0) {
            0 | -1 => None,
            task_code => Some(
                target
                    .tasks_by_key
                    .get(&task_code.to_string())
                    .cloned()
                    .ok_or_else(|| {
                        issue(
                            "dependence.depTaskCode",
                            format!(
                                "waits for task code {task_code}, which workflow {} does not have",
                                target.name
                            ),
                        )
                    })?,
            ),
        };
        return Ok(DependentItem {
            workflow: cx.workflow_ref(target),
            task,
            window,
        });
    }
    // 1.3: by names.
    let definition = text(item.get("definitionName")).ok_or_else(|| {
        issue(
            "dependence.definitionName",
            "names no workflow (neither a code nor a name)",
        )
    })?;
    let project_original = text(item.get("projectName"));
    let found = project_original
        .as_ref()
        .and_then(|p| cx.index.by_name.get(&(p.clone(), definition.clone())))
        .map(|&i| &cx.index.targets[i]);
    let dep_task = text(item.get("depTasks")).filter(|t| t != "ALL" && !t.is_empty());
    let target = match found {
        Some(t) => t.clone(),
        None => {
            let project = match (cx.forced_project, &project_original) {
                (Some(p), _) => p.to_string(),
                (None, Some(p)) => names::derive(p, "project"),
                (None, None) => cx.project.to_string(),
            };
            Target {
                project,
                name: names::derive(&definition, "workflow"),
                tasks_by_key: HashMap::new(),
                tasks_by_name: HashMap::new(),
            }
        }
    };
    let task = dep_task.map(|t| {
        target
            .tasks_by_name
            .get(&t)
            .cloned()
            .unwrap_or_else(|| names::derive(&t, "task"))
    });
    Ok(DependentItem {
        workflow: cx.workflow_ref(&target),
        task,
        window,
    })
}

fn dependent(cx: &mut TaskCx, task: &DsTask) -> Result<TaskKind, Vec<Issue>> {
    let p = &task.params;
    let mut issues = Vec::new();
    let dep = p.get("dependence").and_then(Value::as_object);
    let op = relation(dep.and_then(|d| d.get("relation"))).map_err(|e| vec![e])?;
    let groups = dependence_groups(p);
    if groups.is_empty() {
        return Err(vec![issue("dependence", "lists nothing to wait for")]);
    }
    let mut entries = Vec::new();
    for (rel, items) in groups {
        let group_op = match relation(rel) {
            Ok(op) => op,
            Err(e) => {
                issues.push(e);
                continue;
            }
        };
        let mut converted = Vec::new();
        for item in items {
            match dependent_item(cx, item) {
                Ok(i) => converted.push(i),
                Err(e) => issues.push(e),
            }
        }
        if converted.len() == 1 {
            entries.extend(converted.into_iter().map(DependentEntry::Item));
        } else if !converted.is_empty() {
            entries.push(DependentEntry::Group {
                op: group_op,
                items: converted,
            });
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let check_interval = dep
        .and_then(|d| int(d.get("checkInterval")))
        .filter(|s| *s > 0 && *s != 10)
        .map(|s| Duration::from_secs(s as u64));
    let failure = match dep.and_then(|d| text(d.get("failurePolicy"))).as_deref() {
        Some("DEPENDENT_FAILURE_WAITING") => DependentFailure::Wait,
        _ => DependentFailure::Fail,
    };
    let mut wait_limit = dep
        .and_then(|d| int(d.get("failureWaitingTime")))
        .filter(|m| *m > 0 && failure == DependentFailure::Wait)
        .map(|m| Duration::from_secs(m as u64 * 60));
    if let Some((minutes, _)) = task.timeout
        && minutes > 0
    {
        wait_limit = Some(Duration::from_secs(minutes as u64 * 60));
        cx.note(
            EntryKind::Default,
            format!("the task timeout ({minutes}m) became the dependent's wait_limit"),
        );
    }
    Ok(TaskKind::Dependent(DependentTask {
        op,
        items: entries,
        check_interval,
        failure,
        wait_limit,
    }))
}

fn node_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| text(Some(i)))
            .filter(|k| !k.is_empty() && k != "0")
            .collect(),
        Some(other) => text(Some(other))
            .filter(|k| !k.is_empty() && k != "0")
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

fn conditions(cx: &mut TaskCx, p: &Map<String, Value>) -> Result<TaskKind, Vec<Issue>> {
    let result = p.get("conditionResult").and_then(Value::as_object);
    let success_keys = node_list(result.and_then(|r| r.get("successNode")));
    let failed_keys = node_list(result.and_then(|r| r.get("failedNode")));
    let mut issues = Vec::new();
    let mut success = Vec::new();
    let mut failure = Vec::new();
    for key in &success_keys {
        match cx.branch_target(key, "conditionResult.successNode") {
            Ok(n) => success.push(n),
            Err(e) => issues.push(e),
        }
    }
    for key in &failed_keys {
        match cx.branch_target(key, "conditionResult.failedNode") {
            Ok(n) => failure.push(n),
            Err(e) => issues.push(e),
        }
    }
    // pgdag's conditions task takes its success branch when no upstream task failed. A
    // DolphinScheduler condition is the same when it asks every predecessor for SUCCESS
    // with AND, and the reverse when it asks its only predecessor for FAILURE.
    let dep = p.get("dependence").and_then(Value::as_object);
    let top_and = text(dep.and_then(|d| d.get("relation"))).is_none_or(|r| r == "AND");
    let groups = dependence_groups(p);
    let mut asked: Vec<(String, String)> = Vec::new();
    let mut all_and = top_and;
    for (rel, items) in &groups {
        if text(*rel).is_some_and(|r| r != "AND") && items.len() > 1 {
            all_and = false;
        }
        for item in items {
            let key = text(item.get("depTaskCode"))
                .or_else(|| text(item.get("depTasks")))
                .unwrap_or_default();
            let status = text(item.get("status")).unwrap_or_else(|| "SUCCESS".into());
            asked.push((key, status));
        }
    }
    if groups.len() > 1 && !top_and {
        all_and = false;
    }
    let mut preds = cx.preds.clone();
    preds.sort();
    let mut asked_keys: Vec<String> = asked.iter().map(|(k, _)| k.clone()).collect();
    asked_keys.sort();
    asked_keys.dedup();
    let all_success = asked.iter().all(|(_, s)| s == "SUCCESS");
    if asked.is_empty() {
        issues.push(issue(
            "dependence",
            "a condition that asks about no task has no pgdag equivalent",
        ));
    } else if all_and && all_success && asked_keys == preds {
        // Same meaning.
    } else if asked.len() == 1 && preds.len() == 1 && asked_keys == preds && asked[0].1 == "FAILURE"
    {
        std::mem::swap(&mut success, &mut failure);
        cx.note(
            EntryKind::Default,
            "the condition asked whether its predecessor FAILED: its branches were swapped (pgdag's success branch runs when no upstream task failed)",
        );
    } else {
        issues.push(issue(
            "dependence",
            "pgdag's conditions task judges all of its upstream tasks (success branch when none failed); this condition asks about other tasks or states, or combines them with OR",
        ));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(TaskKind::Conditions(ConditionsTask { success, failure }))
}

fn switch(cx: &mut TaskCx, p: &Map<String, Value>) -> Result<TaskKind, Vec<Issue>> {
    let result = p.get("switchResult").and_then(Value::as_object);
    let mut issues = Vec::new();
    let mut cases = Vec::new();
    if let Some(Value::Array(list)) = result.and_then(|r| r.get("dependTaskList")) {
        for case in list.iter().filter_map(Value::as_object) {
            let when = text(case.get("condition")).unwrap_or_default();
            let Some(next) = node_list(case.get("nextNode")).into_iter().next() else {
                issues.push(issue(
                    "switchResult.dependTaskList",
                    format!("the case {when:?} names no next task"),
                ));
                continue;
            };
            if let Err(e) = crate::params::expr::parse(&when) {
                issues.push(issue(
                    "switchResult.condition",
                    format!(
                        "{when:?} is not an expression pgdag evaluates ({}); pgdag takes numbers, quoted strings, ${{param}}, comparisons, && || ! and parentheses",
                        e.message
                    ),
                ));
                continue;
            }
            match cx.branch_target(&next, "switchResult.nextNode") {
                Ok(then) => cases.push(SwitchCase { when, then }),
                Err(e) => issues.push(e),
            }
        }
    }
    let default = match node_list(result.and_then(|r| r.get("nextNode")))
        .into_iter()
        .next()
    {
        Some(key) => match cx.branch_target(&key, "switchResult.nextNode") {
            Ok(n) => Some(n),
            Err(e) => {
                issues.push(e);
                None
            }
        },
        None => None,
    };
    if cases.is_empty() && issues.is_empty() {
        issues.push(issue("switchResult", "has no case"));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(TaskKind::Switch(SwitchTask { cases, default }))
}

/// Splits command-line text into words: spaces separate, single and double quotes group.
pub fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                    any = false;
                }
            }
            None => current.push(c),
        }
    }
    if any || !current.is_empty() {
        words.push(current);
    }
    words
}

/// The program of a spark or mr task: a path, never a resource-center file.
fn main_file(p: &Map<String, Value>) -> Result<String, Issue> {
    match p.get("mainJar") {
        Some(Value::String(path)) if !path.trim().is_empty() => Ok(path.clone()),
        Some(Value::Object(o)) if !o.is_empty() => {
            let what = text(o.get("resourceName"))
                .or_else(|| text(o.get("res")))
                .map(|n| format!("resource {n}"))
                .or_else(|| int(o.get("id")).map(|id| format!("resource id {id}")))
                .unwrap_or_else(|| "a resource".into());
            Err(issue(
                "mainJar",
                format!(
                    "the program is {what} of DolphinScheduler's resource center: copy it to the workers and set its path"
                ),
            ))
        }
        _ => Err(issue("mainJar", "names no program")),
    }
}

fn spark(
    cx: &mut TaskCx,
    p: &Map<String, Value>,
    local: &[DsParam],
) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let mut issues = Vec::new();
    let program = text(p.get("programType")).unwrap_or_default();
    if program.eq_ignore_ascii_case("SQL") {
        issues.push(issue(
            "programType",
            "Spark SQL scripts (rawScript) have no pgdag equivalent: put the SQL in a file run by spark-sql, or in a pyspark program",
        ));
    }
    let main = if program.eq_ignore_ascii_case("SQL") {
        None
    } else {
        main_file(p).map_err(|e| issues.push(e)).ok()
    };
    let mut conf = BTreeMap::new();
    let mut queue = text(p.get("yarnQueue"))
        .or_else(|| text(p.get("queue")))
        .filter(|q| !q.is_empty());
    let others = split_words(&text(p.get("others")).unwrap_or_default());
    let mut words = others.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--conf" => match words.next().and_then(|kv| kv.split_once('=')) {
                Some((k, v)) => {
                    conf.insert(k.to_string(), v.to_string());
                }
                None => issues.push(issue("others", "`--conf` without key=value")),
            },
            "--queue" => queue = words.next().cloned(),
            other => {
                issues.push(issue(
                    "others",
                    format!(
                        "the spark-submit option {other:?} has no pgdag key (pgdag takes --conf k=v and --queue)"
                    ),
                ));
                break;
            }
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let deploy = text(p.get("deployMode")).unwrap_or_else(|| "cluster".into());
    let (master, deploy_mode) = match deploy.as_str() {
        "local" => (Some("local".to_string()), None),
        "client" => (
            Some("yarn".to_string()),
            Some(crate::spec::DeployMode::Client),
        ),
        _ => (
            Some("yarn".to_string()),
            Some(crate::spec::DeployMode::Cluster),
        ),
    };
    cx.note(
        EntryKind::Default,
        format!(
            "spark deployMode {deploy} became master {} (DolphinScheduler submits to YARN)",
            master.as_deref().unwrap_or("")
        ),
    );
    let count = |key: &str| int(p.get(key)).filter(|n| *n > 0).map(|n| n as u32);
    let memory = |key: &str| text(p.get(key)).filter(|m| !m.is_empty());
    let params = in_params(cx, local);
    Ok((
        TaskKind::Spark(crate::spec::SparkTask {
            main: main.unwrap_or_default(),
            main_class: text(p.get("mainClass")).filter(|c| !c.is_empty()),
            master,
            deploy_mode,
            app_name: text(p.get("appName")).filter(|a| !a.is_empty()),
            driver_cores: count("driverCores"),
            driver_memory: memory("driverMemory"),
            num_executors: count("numExecutors"),
            executor_cores: count("executorCores"),
            executor_memory: memory("executorMemory"),
            queue,
            args: split_words(&text(p.get("mainArgs")).unwrap_or_default()),
            conf,
        }),
        params,
    ))
}

fn mr(
    cx: &mut TaskCx,
    p: &Map<String, Value>,
    local: &[DsParam],
) -> Result<(TaskKind, ParamMap), Vec<Issue>> {
    let mut issues = Vec::new();
    let program = text(p.get("programType")).unwrap_or_else(|| "JAVA".into());
    if program.eq_ignore_ascii_case("PYTHON") {
        issues.push(issue(
            "programType",
            "Hadoop streaming (PYTHON) jobs have no pgdag key",
        ));
    }
    let jar = main_file(p).map_err(|e| issues.push(e)).ok();
    let mut conf = BTreeMap::new();
    let others = split_words(&text(p.get("others")).unwrap_or_default());
    let mut words = others.iter();
    while let Some(word) = words.next() {
        let kv = if word == "-D" {
            words.next().cloned()
        } else {
            word.strip_prefix("-D").map(str::to_string)
        };
        match kv.as_deref().and_then(|kv| kv.split_once('=')) {
            Some((k, v)) => {
                conf.insert(k.to_string(), v.to_string());
            }
            None => {
                issues.push(issue(
                    "others",
                    format!(
                        "the hadoop option {word:?} has no pgdag key (pgdag takes -D key=value)"
                    ),
                ));
                break;
            }
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let params = in_params(cx, local);
    Ok((
        TaskKind::Mr(MrTask {
            jar: jar.unwrap_or_default(),
            main_class: text(p.get("mainClass")).filter(|c| !c.is_empty()),
            app_name: text(p.get("appName")).filter(|a| !a.is_empty()),
            queue: text(p.get("yarnQueue"))
                .or_else(|| text(p.get("queue")))
                .filter(|q| !q.is_empty()),
            args: split_words(&text(p.get("mainArgs")).unwrap_or_default()),
            conf,
        }),
        params,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_text_splits_at_top_level_semicolons_only() {
        assert_eq!(
            split_statements("delete from t where a = ';'; -- x;\ninsert into t values (1);\n"),
            [
                "delete from t where a = ';'",
                "-- x;\ninsert into t values (1)"
            ]
        );
        assert_eq!(split_statements("select 1"), ["select 1"]);
        assert_eq!(
            split_statements("  ;  -- only a comment\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            split_statements("select 'a'; /* ; */ select 2;"),
            ["select 'a'", "/* ; */ select 2"]
        );
        let body = "create function f() returns int as $$ select 1; $$ language sql;";
        assert_eq!(split_statements(body).len(), 1);
    }

    #[test]
    fn words_split_like_a_shell_would() {
        assert_eq!(
            split_words(r#"--conf "spark.a=/bin/python3" --conf 'b=c d' x"#),
            ["--conf", "spark.a=/bin/python3", "--conf", "b=c d", "x"]
        );
        assert_eq!(split_words("  "), Vec::<String>::new());
        assert_eq!(split_words("''"), [""]);
    }

    #[test]
    fn every_date_value_has_a_window() {
        for v in [
            "currentHour",
            "last1Hour",
            "last24Hours",
            "today",
            "last7Days",
            "thisWeek",
            "lastSunday",
            "thisMonth",
            "lastMonthEnd",
        ] {
            assert!(window(v).is_some(), "{v}");
        }
        assert!(window("yesterday").is_none());
    }
}
