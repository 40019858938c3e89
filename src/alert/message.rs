//! What an alert says: its subject, a plain-text and an HTML body for email, and the JSON
//! body of a webhook (documented in docs/alerts.md). Pure: made from the alert row alone
//! (its payload was captured when the event happened), so it can be tested without a
//! database and says the same on every retry.
//!
//! Payloads come from pgdag's own writers, but other applications may insert alert rows
//! too: every field is optional here and nothing in a payload can make rendering fail.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

/// Lines of a failed task's log shown in a message.
pub const LOG_LINES: usize = 20;
/// Rows of a query result shown in a message.
pub const MAX_RESULT_ROWS: usize = 100;
/// Bytes of table text (rows rendered as text) at most; rows beyond are left out.
pub const MAX_TABLE_BYTES: usize = 64 * 1024;
/// Longest subject line.
const MAX_SUBJECT_CHARS: usize = 200;
/// Longest line of a log or cell shown.
const MAX_LINE_CHARS: usize = 500;
/// The webhook's `text` is the text body cut to this many characters.
const MAX_WEBHOOK_TEXT_CHARS: usize = 3_500;

/// An alert as the message sees it.
#[derive(Debug, Clone)]
pub struct AlertView<'a> {
    pub id: i64,
    pub kind: &'a str,
    /// The group this message goes to.
    pub group: &'a str,
    pub payload: &'a Value,
    pub workflow_instance_id: Option<i64>,
    pub task_instance_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A rendered alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The webhook body (the sender adds `delivery_id`).
    pub json: Value,
}

/// The alert's subject line (also shown by `GET /api/v1/alerts`).
pub fn subject(alert: &AlertView) -> String {
    document(alert, "").subject
}

/// Subject, bodies and webhook JSON. `public_url` is the base of links to the UI
/// (`PGDAG_PUBLIC_URL`, without a trailing slash).
pub fn render(alert: &AlertView, public_url: &str) -> Rendered {
    let doc = document(alert, public_url);
    let text = doc.text(alert);
    let html = doc.html(alert);
    let mut json = Map::new();
    json.insert(
        "text".into(),
        Value::String(cut_chars(
            &format!("{}\n{}", doc.subject, text),
            MAX_WEBHOOK_TEXT_CHARS,
        )),
    );
    json.insert("subject".into(), Value::String(doc.subject.clone()));
    json.insert("kind".into(), Value::String(alert.kind.to_string()));
    json.insert("alert_id".into(), json!(alert.id));
    json.insert("group".into(), Value::String(alert.group.to_string()));
    json.insert(
        "created_at".into(),
        Value::String(rfc3339(alert.created_at)),
    );
    if let Some(instance) = doc.instance.as_ref() {
        json.insert("project".into(), opt_str(&instance.project));
        json.insert("workflow".into(), opt_str(&instance.workflow));
        json.insert("version".into(), json!(instance.version));
        json.insert("instance_id".into(), json!(instance.id));
        json.insert("state".into(), opt_str(&instance.state));
        json.insert("schedule_time".into(), opt_str(&instance.schedule_time));
        json.insert("started_at".into(), opt_str(&instance.started_at));
        json.insert("ended_at".into(), opt_str(&instance.ended_at));
        json.insert("duration_ms".into(), json!(instance.duration_ms()));
    } else if let Some(id) = alert.workflow_instance_id {
        json.insert("instance_id".into(), json!(id));
    }
    json.insert(
        "url".into(),
        doc.link.clone().map(Value::String).unwrap_or(Value::Null),
    );
    for (key, value) in doc.extra {
        json.insert(key, value);
    }
    Rendered {
        subject: doc.subject,
        text,
        html,
        json: Value::Object(json),
    }
}

// ---- the document every kind is turned into ----

enum Section {
    /// A paragraph of plain text.
    Text { title: Option<String>, body: String },
    /// Preformatted lines (a log tail, an SQL statement).
    Pre { title: String, body: String },
    /// A table of values.
    Table {
        title: String,
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
        note: Option<String>,
    },
}

struct Doc {
    subject: String,
    headline: String,
    facts: Vec<(String, String)>,
    sections: Vec<Section>,
    /// The instance page.
    link: Option<String>,
    instance: Option<Instance>,
    /// Kind-specific fields of the webhook JSON.
    extra: Vec<(String, Value)>,
}

impl Doc {
    fn new(subject: String, headline: String) -> Doc {
        Doc {
            subject: clean_subject(&subject),
            headline,
            facts: Vec::new(),
            sections: Vec::new(),
            link: None,
            instance: None,
            extra: Vec::new(),
        }
    }

    fn fact(&mut self, label: &str, value: impl Into<String>) {
        self.facts.push((label.to_string(), value.into()));
    }

    fn text(&self, alert: &AlertView) -> String {
        let mut out = format!("{}\n\n", self.headline);
        let width = self
            .facts
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, value) in &self.facts {
            out.push_str(&format!(
                "{label}:{} {value}\n",
                " ".repeat(width - label.chars().count())
            ));
        }
        for section in &self.sections {
            out.push('\n');
            match section {
                Section::Text { title, body } => {
                    if let Some(title) = title {
                        out.push_str(&format!("{title}:\n"));
                    }
                    out.push_str(body.trim_end());
                    out.push('\n');
                }
                Section::Pre { title, body } => {
                    out.push_str(&format!("{title}:\n"));
                    for line in body.trim_end().lines() {
                        out.push_str(&format!("  | {line}\n"));
                    }
                }
                Section::Table {
                    title,
                    columns,
                    rows,
                    note,
                } => {
                    out.push_str(&format!("{title}:\n"));
                    if !columns.is_empty() {
                        out.push_str(&crate::text::format_table(columns, rows));
                    }
                    if let Some(note) = note {
                        out.push_str(&format!("{note}\n"));
                    }
                }
            }
        }
        if let Some(link) = &self.link {
            out.push_str(&format!("\nInstance page: {link}\n"));
        }
        out.push_str(&footer(alert));
        out
    }

    fn html(&self, alert: &AlertView) -> String {
        let mut out = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
             <body style=\"font-family: sans-serif; font-size: 14px; color: #222;\">\n",
        );
        out.push_str(&format!(
            "<h2 style=\"font-size: 17px;\">{}</h2>\n",
            escape(&self.headline)
        ));
        if !self.facts.is_empty() {
            out.push_str("<table style=\"border-collapse: collapse;\">\n");
            for (label, value) in &self.facts {
                out.push_str(&format!(
                    "<tr><th style=\"text-align: left; padding: 2px 12px 2px 0;\">{}</th><td>{}</td></tr>\n",
                    escape(label),
                    escape(value)
                ));
            }
            out.push_str("</table>\n");
        }
        for section in &self.sections {
            match section {
                Section::Text { title, body } => {
                    if let Some(title) = title {
                        out.push_str(&format!(
                            "<h3 style=\"font-size: 15px;\">{}</h3>\n",
                            escape(title)
                        ));
                    }
                    out.push_str(&format!(
                        "<p style=\"white-space: pre-wrap;\">{}</p>\n",
                        escape(body.trim_end())
                    ));
                }
                Section::Pre { title, body } => {
                    out.push_str(&format!(
                        "<h3 style=\"font-size: 15px;\">{}</h3>\n<pre style=\"background: #f4f4f4; padding: 8px;\">{}</pre>\n",
                        escape(title),
                        escape(body.trim_end())
                    ));
                }
                Section::Table {
                    title,
                    columns,
                    rows,
                    note,
                } => {
                    out.push_str(&format!(
                        "<h3 style=\"font-size: 15px;\">{}</h3>\n",
                        escape(title)
                    ));
                    if !columns.is_empty() {
                        out.push_str("<table style=\"border-collapse: collapse;\" border=\"1\" cellpadding=\"4\">\n<tr>");
                        for c in columns {
                            out.push_str(&format!("<th>{}</th>", escape(c)));
                        }
                        out.push_str("</tr>\n");
                        for row in rows {
                            out.push_str("<tr>");
                            for cell in row {
                                out.push_str(&format!("<td>{}</td>", escape(cell)));
                            }
                            out.push_str("</tr>\n");
                        }
                        out.push_str("</table>\n");
                    }
                    if let Some(note) = note {
                        out.push_str(&format!("<p>{}</p>\n", escape(note)));
                    }
                }
            }
        }
        if let Some(link) = &self.link {
            out.push_str(&format!(
                "<p><a href=\"{}\">Open the instance page</a> ({})</p>\n",
                escape(link),
                escape(link)
            ));
        }
        out.push_str(&format!(
            "<p style=\"color: #777; font-size: 12px;\">{}</p>\n</body></html>\n",
            escape(footer(alert).trim())
        ));
        out
    }
}

fn footer(alert: &AlertView) -> String {
    format!(
        "\n--\npgdag alert {} ({}) to alert group {}\n",
        alert.id, alert.kind, alert.group
    )
}

// ---- the instance an alert is about ----

#[derive(Debug, Clone, Default)]
struct Instance {
    id: Option<i64>,
    project: Option<String>,
    workflow: Option<String>,
    version: Option<i64>,
    state: Option<String>,
    schedule_time: Option<String>,
    started_at: Option<String>,
    ended_at: Option<String>,
}

impl Instance {
    fn from(value: Option<&Value>, fallback_id: Option<i64>) -> Option<Instance> {
        let v = value.filter(|v| v.is_object());
        if v.is_none() && fallback_id.is_none() {
            return None;
        }
        let text = |key: &str| v.and_then(|v| v.get(key)).and_then(as_text);
        let time = |key: &str| {
            v.and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .map(normalize_time)
        };
        Some(Instance {
            id: v
                .and_then(|v| v.get("id"))
                .and_then(Value::as_i64)
                .or(fallback_id),
            project: text("project"),
            workflow: text("workflow"),
            version: v.and_then(|v| v.get("version")).and_then(Value::as_i64),
            state: text("state"),
            schedule_time: time("schedule_time"),
            started_at: time("started_at"),
            ended_at: time("ended_at"),
        })
    }

    /// `project/workflow #id`, with what is known.
    fn name(&self) -> String {
        let path = match (&self.project, &self.workflow) {
            (Some(p), Some(w)) => format!("{p}/{w}"),
            (None, Some(w)) => w.clone(),
            _ => "workflow".to_string(),
        };
        match self.id {
            Some(id) => format!("{path} #{id}"),
            None => path,
        }
    }

    fn duration_ms(&self) -> Option<i64> {
        let start = parse_time(self.started_at.as_deref()?)?;
        let end = parse_time(self.ended_at.as_deref()?)?;
        Some((end - start).num_milliseconds().max(0))
    }

    fn facts(&self, doc: &mut Doc) {
        if let Some(p) = &self.project {
            doc.fact("Project", p.clone());
        }
        if let Some(w) = &self.workflow {
            doc.fact(
                "Workflow",
                match self.version {
                    Some(v) => format!("{w} (version {v})"),
                    None => w.clone(),
                },
            );
        }
        if let Some(id) = self.id {
            doc.fact("Instance", id.to_string());
        }
        if let Some(state) = &self.state {
            doc.fact("State", state.clone());
        }
        doc.fact(
            "Schedule time",
            self.schedule_time
                .as_deref()
                .map(display_time)
                .unwrap_or_else(|| "none (not started by a schedule)".into()),
        );
        if let Some(t) = &self.started_at {
            doc.fact("Started", display_time(t));
        }
        if let Some(t) = &self.ended_at {
            doc.fact("Ended", display_time(t));
        }
        if let Some(ms) = self.duration_ms() {
            doc.fact("Duration", format_duration(ms));
        }
    }
}

fn instance_link(public_url: &str, id: Option<i64>) -> Option<String> {
    id.map(|id| format!("{}/instances/{id}", public_url.trim_end_matches('/')))
}

// ---- one function per kind ----

fn document(alert: &AlertView, public_url: &str) -> Doc {
    let p = alert.payload;
    let instance = Instance::from(p.get("instance"), alert.workflow_instance_id);
    let mut doc = match alert.kind {
        "workflow_end" => workflow_end(p, instance.clone()),
        "workflow_timeout" => workflow_timeout(p, instance.clone()),
        "sla_miss" => sla_miss(p, instance.clone()),
        "task_timeout" => task_timeout(p, instance.clone(), alert),
        "failover" => failover(p, public_url),
        "sql_result" => sql_result(p, instance.clone()),
        "dependent_failed" => dependent_failed(p, instance.clone(), alert),
        "test" => test(p, alert),
        _ => other(p, alert),
    };
    if alert.kind != "failover" {
        doc.link = instance_link(public_url, instance.as_ref().and_then(|i| i.id));
        doc.instance = instance;
    }
    doc
}

fn workflow_end(p: &Value, instance: Option<Instance>) -> Doc {
    let i = instance.unwrap_or_default();
    let state = i.state.clone().unwrap_or_else(|| "ended".into());
    let mut doc = Doc::new(
        format!("[pgdag] {} {state}", i.name()),
        format!("Workflow {} {state}", i.name()),
    );
    i.facts(&mut doc);
    let failed = p
        .get("failed_tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !failed.is_empty() {
        let names: Vec<String> = failed
            .iter()
            .filter_map(|t| t.get("name").and_then(as_text))
            .collect();
        doc.fact("Failed tasks", names.join(", "));
    }
    for task in &failed {
        failed_task_sections(&mut doc, task);
    }
    doc.extra
        .push(("failed_tasks".into(), Value::Array(failed)));
    doc
}

fn failed_task_sections(doc: &mut Doc, task: &Value) {
    let name = task
        .get("name")
        .and_then(as_text)
        .unwrap_or_else(|| "?".into());
    let mut about = Vec::new();
    if let Some(id) = task.get("id").and_then(Value::as_i64) {
        about.push(format!("task instance {id}"));
    }
    if let Some(a) = task.get("attempt").and_then(Value::as_i64) {
        about.push(format!("attempt {a}"));
    }
    if let Some(h) = task.get("host").and_then(as_text) {
        about.push(format!("on {h}"));
    }
    if let Some(c) = task.get("exit_code").and_then(Value::as_i64) {
        about.push(format!("exit code {c}"));
    }
    let mut body = about.join(", ");
    if let Some(e) = task.get("error").and_then(as_text) {
        body.push_str(&format!("\nerror: {}", cut_chars(&e, 2_000)));
    }
    doc.sections.push(Section::Text {
        title: Some(format!("Task {name} failed")),
        body,
    });
    if let Some(log) = task.get("log_tail").and_then(Value::as_str) {
        let tail = last_lines(log, LOG_LINES);
        if !tail.trim().is_empty() {
            doc.sections.push(Section::Pre {
                title: format!("Last lines of the log of {name}"),
                body: tail,
            });
        }
    }
}

fn workflow_timeout(p: &Value, instance: Option<Instance>) -> Doc {
    let i = instance.unwrap_or_default();
    let mut doc = Doc::new(
        format!("[pgdag] {} timed out", i.name()),
        format!("Workflow {} runs longer than its timeout", i.name()),
    );
    i.facts(&mut doc);
    message_section(&mut doc, p);
    doc
}

fn sla_miss(p: &Value, instance: Option<Instance>) -> Doc {
    let i = instance.unwrap_or_default();
    let mut doc = Doc::new(
        format!("[pgdag] {} missed its SLA", i.name()),
        format!("Workflow {} is not finished within its SLA", i.name()),
    );
    i.facts(&mut doc);
    message_section(&mut doc, p);
    doc
}

fn task_timeout(p: &Value, instance: Option<Instance>, alert: &AlertView) -> Doc {
    let i = instance.unwrap_or_default();
    let task = p
        .get("task")
        .and_then(as_text)
        .unwrap_or_else(|| "?".into());
    let mut doc = Doc::new(
        format!("[pgdag] {} task {task} timed out", i.name()),
        format!("Task {task} of {} runs longer than its timeout", i.name()),
    );
    i.facts(&mut doc);
    task_facts(&mut doc, p, alert);
    message_section(&mut doc, p);
    doc.extra.push(("task".into(), task_json(p, alert)));
    doc
}

fn dependent_failed(p: &Value, instance: Option<Instance>, alert: &AlertView) -> Doc {
    let i = instance.unwrap_or_default();
    let task = p
        .get("task")
        .and_then(as_text)
        .unwrap_or_else(|| "?".into());
    let mut doc = Doc::new(
        format!("[pgdag] {} dependent task {task} gave up", i.name()),
        format!("Dependent task {task} of {} gave up", i.name()),
    );
    i.facts(&mut doc);
    task_facts(&mut doc, p, alert);
    message_section(&mut doc, p);
    if let Some(details) = p.get("details").and_then(Value::as_str) {
        doc.sections.push(Section::Pre {
            title: "What it found".into(),
            body: last_lines(details, 60),
        });
        doc.extra
            .push(("details".into(), Value::String(details.to_string())));
    }
    doc.extra.push(("task".into(), task_json(p, alert)));
    doc
}

fn task_facts(doc: &mut Doc, p: &Value, alert: &AlertView) {
    if let Some(t) = p.get("task").and_then(as_text) {
        doc.fact("Task", t);
    }
    if let Some(id) = p
        .get("task_instance_id")
        .and_then(Value::as_i64)
        .or(alert.task_instance_id)
    {
        doc.fact("Task instance", id.to_string());
    }
    if let Some(a) = p.get("attempt").and_then(Value::as_i64) {
        doc.fact("Attempt", a.to_string());
    }
    if let Some(h) = p.get("host").and_then(as_text) {
        doc.fact("Host", h);
    }
}

fn task_json(p: &Value, alert: &AlertView) -> Value {
    json!({
        "id": p.get("task_instance_id").and_then(Value::as_i64).or(alert.task_instance_id),
        "name": p.get("task").and_then(as_text),
        "attempt": p.get("attempt").and_then(Value::as_i64),
        "host": p.get("host").and_then(as_text),
    })
}

fn message_section(doc: &mut Doc, p: &Value) {
    if let Some(m) = p.get("message").and_then(as_text) {
        doc.sections.push(Section::Text {
            title: None,
            body: cut_chars(&m, 4_000),
        });
        doc.extra.push(("message".into(), Value::String(m)));
    }
}

fn failover(p: &Value, public_url: &str) -> Doc {
    let server = p
        .get("server")
        .and_then(as_text)
        .unwrap_or_else(|| "?".into());
    let tasks = p
        .get("task_instances")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let n = tasks.len();
    let what = match n {
        0 => "no task attempt was running on it".to_string(),
        1 => "1 task attempt taken back".to_string(),
        n => format!("{n} task attempts taken back"),
    };
    let mut doc = Doc::new(
        format!("[pgdag] server {server} declared dead: {what}"),
        format!("Server {server} was declared dead: {what}"),
    );
    doc.fact("Server", server.clone());
    if let Some(id) = p.get("server_id").and_then(Value::as_i64) {
        doc.fact("Server id", id.to_string());
    }
    if !tasks.is_empty() {
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|t| {
                let instance = t.get("workflow_instance_id").and_then(Value::as_i64);
                let path = match (
                    t.get("project").and_then(as_text),
                    t.get("workflow").and_then(as_text),
                ) {
                    (Some(p), Some(w)) => format!("{p}/{w}"),
                    _ => String::new(),
                };
                let state = t.get("state").and_then(as_text).unwrap_or_default();
                vec![
                    path,
                    instance.map(|i| i.to_string()).unwrap_or_default(),
                    t.get("name").and_then(as_text).unwrap_or_default(),
                    t.get("id")
                        .and_then(Value::as_i64)
                        .map(|i| i.to_string())
                        .unwrap_or_default(),
                    match state.as_str() {
                        "need_failover" => "need_failover (runs again on another worker)".into(),
                        "failed" => "failed (on_worker_loss: fail)".into(),
                        other => other.to_string(),
                    },
                    instance_link(public_url, instance).unwrap_or_default(),
                ]
            })
            .collect();
        doc.sections.push(Section::Table {
            title: "Task attempts it was running".into(),
            columns: [
                "workflow",
                "instance",
                "task",
                "task instance",
                "now",
                "page",
            ]
            .map(String::from)
            .to_vec(),
            rows,
            note: None,
        });
    }
    doc.extra.push(("server".into(), Value::String(server)));
    doc.extra.push((
        "server_id".into(),
        p.get("server_id").cloned().unwrap_or(Value::Null),
    ));
    doc.extra
        .push(("task_instances".into(), Value::Array(tasks)));
    doc
}

fn sql_result(p: &Value, instance: Option<Instance>) -> Doc {
    let i = instance.unwrap_or_default();
    let task = p.get("task").cloned().unwrap_or(Value::Null);
    let task_name = task
        .get("name")
        .and_then(as_text)
        .unwrap_or_else(|| "?".into());
    let result = p.get("result").cloned().unwrap_or(Value::Null);
    let affected = result.get("rows_affected").and_then(Value::as_i64);
    let row_count = result
        .get("row_count")
        .and_then(Value::as_i64)
        .or_else(|| {
            result
                .get("rows")
                .and_then(Value::as_array)
                .map(|r| r.len() as i64)
        })
        .unwrap_or(0);
    let counted = match affected {
        Some(1) => "1 row affected".to_string(),
        Some(n) => format!("{n} rows affected"),
        None if row_count == 1 => "1 row".to_string(),
        None => format!("{row_count} rows"),
    };
    let mut doc = Doc::new(
        format!(
            "[pgdag] {} task {task_name}: query result ({counted})",
            i.name()
        ),
        format!("Result of task {task_name} of {}: {counted}", i.name()),
    );
    i.facts(&mut doc);
    doc.fact("Task", task_name.clone());
    if let Some(id) = task.get("id").and_then(Value::as_i64) {
        doc.fact("Task instance", id.to_string());
    }
    if let Some(ds) = p.get("datasource").and_then(as_text) {
        doc.fact("Datasource", ds);
    }
    if let Some(sql) = p.get("sql").and_then(Value::as_str) {
        doc.sections.push(Section::Pre {
            title: "Statement".into(),
            body: cut_chars(sql, 4_000),
        });
    }
    let columns: Vec<String> = result
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(|c| as_text(c).unwrap_or_default()).collect())
        .unwrap_or_default();
    let all_rows = result
        .get("rows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut rows = Vec::new();
    let mut bytes = 0;
    for row in all_rows.iter().take(MAX_RESULT_ROWS) {
        let cells: Vec<String> = match row.as_array() {
            Some(cells) => cells
                .iter()
                .map(|c| match c {
                    Value::Null => "NULL".to_string(),
                    other => cut_chars(&as_text(other).unwrap_or_default(), MAX_LINE_CHARS),
                })
                .collect(),
            None => vec![cut_chars(&row.to_string(), MAX_LINE_CHARS)],
        };
        let size: usize = cells.iter().map(|c| c.len() + 3).sum();
        if bytes + size > MAX_TABLE_BYTES {
            break;
        }
        bytes += size;
        rows.push(cells);
    }
    if affected.is_none() {
        let shown = rows.len() as i64;
        let mut notes = Vec::new();
        if shown < row_count {
            notes.push(format!(
                "Showing the first {shown} of {row_count} rows kept by the task."
            ));
        }
        if result.get("truncated").and_then(Value::as_bool) == Some(true) {
            notes.push("The query returned more rows than the task keeps (max_rows).".into());
        }
        doc.sections.push(Section::Table {
            title: "Result".into(),
            columns: columns.clone(),
            rows: rows.clone(),
            note: (!notes.is_empty()).then(|| notes.join(" ")),
        });
    }
    doc.extra.push(("task".into(), task));
    doc.extra.push((
        "result".into(),
        json!({
            "columns": columns,
            "rows": rows,
            "row_count": row_count,
            "rows_affected": affected,
            "truncated": result.get("truncated").and_then(Value::as_bool).unwrap_or(false)
                || (rows.len() as i64) < row_count,
        }),
    ));
    doc
}

fn test(p: &Value, alert: &AlertView) -> Doc {
    let mut doc = Doc::new(
        format!("[pgdag] test message to alert group {}", alert.group),
        format!("Test message to alert group {}", alert.group),
    );
    doc.sections.push(Section::Text {
        title: None,
        body: p
            .get("message")
            .and_then(as_text)
            .unwrap_or_else(|| "This channel works: pgdag can reach it.".into()),
    });
    doc
}

/// A kind this build does not know (a row inserted by another application): its
/// `payload.subject` and `payload.message` when given, else the payload itself.
fn other(p: &Value, alert: &AlertView) -> Doc {
    let subject = match p.get("subject").and_then(as_text) {
        Some(s) if s.starts_with("[pgdag]") => s,
        Some(s) => format!("[pgdag] {s}"),
        None => format!("[pgdag] {} alert {}", alert.kind, alert.id),
    };
    let headline = subject.trim_start_matches("[pgdag] ").to_string();
    let mut doc = Doc::new(subject, headline);
    let body = match p.get("message").and_then(as_text) {
        Some(m) => m,
        None => serde_json::to_string_pretty(p).unwrap_or_default(),
    };
    doc.sections.push(Section::Text {
        title: None,
        body: cut_chars(&body, 16_000),
    });
    doc.extra.push(("payload".into(), p.clone()));
    doc
}

// ---- small helpers ----

/// A JSON scalar as text (strings as they are, numbers and booleans spelled).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn opt_str(v: &Option<String>) -> Value {
    v.clone().map(Value::String).unwrap_or(Value::Null)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Postgres' JSON spelling of a time, as RFC 3339 in UTC with milliseconds.
fn normalize_time(text: &str) -> String {
    parse_time(text)
        .map(rfc3339)
        .unwrap_or_else(|| text.to_string())
}

fn display_time(text: &str) -> String {
    match parse_time(text) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => text.to_string(),
    }
}

/// `850ms`, `42s`, `3m 5s`, `2h 0m 7s`.
pub fn format_duration(ms: i64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let s = ms / 1_000;
    let (h, m, s) = (s / 3_600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The last `n` lines of `text`, each cut to a readable length.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| cut_chars(l, MAX_LINE_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cut_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// One line, at most [`MAX_SUBJECT_CHARS`]: a subject never carries a line break.
fn clean_subject(subject: &str) -> String {
    let one_line: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut_chars(one_line.trim(), MAX_SUBJECT_CHARS)
}

/// HTML text and attribute escaping.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(kind: &'a str, payload: &'a Value) -> AlertView<'a> {
        AlertView {
            id: 7,
            kind,
            group: "oncall",
            payload,
            workflow_instance_id: Some(42),
            task_instance_id: None,
            created_at: DateTime::parse_from_rfc3339("2026-03-01T10:05:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    fn instance(state: &str) -> Value {
        json!({
            "id": 42, "project": "demo", "workflow": "hello_pipeline", "version": 3,
            "state": state, "schedule_time": "2026-03-01T02:00:00+00:00",
            "started_at": "2026-03-01T10:00:00.250+00:00",
            "ended_at": "2026-03-01T10:01:12.250+00:00"
        })
    }

    #[test]
    fn a_failed_workflow_names_everything_and_links_the_instance() {
        let log: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let payload = json!({
            "instance": instance("failed"),
            "failed_tasks": [{"id": 101, "name": "extract", "attempt": 3, "host": "w1:7",
                              "exit_code": 1, "error": "exit code 1", "log_tail": log}]
        });
        let r = render(
            &view("workflow_end", &payload),
            "http://pgdag.example:8080/",
        );
        assert_eq!(r.subject, "[pgdag] demo/hello_pipeline #42 failed");
        for needle in [
            "Project:",
            "demo",
            "hello_pipeline (version 3)",
            "Instance:      42",
            "State:         failed",
            "2026-03-01 02:00:00 UTC",
            "Duration:      1m 12s",
            "Failed tasks:  extract",
            "task instance 101, attempt 3, on w1:7, exit code 1",
            "  | line 30",
            "  | line 11",
            "http://pgdag.example:8080/instances/42",
        ] {
            assert!(
                r.text.contains(needle),
                "{needle:?} missing in:\n{}",
                r.text
            );
        }
        assert!(!r.text.contains("| line 10\n"), "only the last 20 lines");
        assert!(
            r.html
                .contains("href=\"http://pgdag.example:8080/instances/42\"")
        );
        assert!(r.html.contains("<pre"));
        assert_eq!(r.json["kind"], "workflow_end");
        assert_eq!(r.json["project"], "demo");
        assert_eq!(r.json["instance_id"], 42);
        assert_eq!(r.json["state"], "failed");
        assert_eq!(r.json["duration_ms"], 72_000);
        assert_eq!(r.json["url"], "http://pgdag.example:8080/instances/42");
        assert_eq!(r.json["failed_tasks"][0]["name"], "extract");
        assert_eq!(r.json["started_at"], "2026-03-01T10:00:00.250Z");
        let text = r.json["text"].as_str().unwrap();
        assert!(text.starts_with("[pgdag] demo/hello_pipeline #42 failed\n"));
    }

    #[test]
    fn html_escapes_what_users_wrote() {
        let payload = json!({
            "instance": {"id": 1, "project": "p", "workflow": "<b>w</b>", "state": "succeeded"},
            "task": {"id": 5, "name": "q"},
            "sql": "select '<script>'",
            "result": {"columns": ["a&b"], "rows": [["<script>alert(1)</script>"], [null]],
                       "row_count": 2, "truncated": false}
        });
        let r = render(&view("sql_result", &payload), "http://x");
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("<th>a&amp;b</th>"));
        assert!(r.html.contains("&lt;b&gt;w&lt;/b&gt;"));
        assert!(
            r.text.contains("<script>alert(1)</script>"),
            "text is as it is"
        );
        assert!(r.text.contains("NULL"));
        assert_eq!(
            r.subject,
            "[pgdag] p/<b>w</b> #1 task q: query result (2 rows)"
        );
    }

    #[test]
    fn a_big_result_is_bounded() {
        let blob = "x".repeat(2_000);
        let rows: Vec<Value> = (0..100)
            .map(|i| json!([format!("{i}"), blob, blob, blob, blob, blob]))
            .collect();
        let payload = json!({
            "instance": instance("running"),
            "task": {"id": 5, "name": "q"},
            "result": {"columns": ["n", "a", "b", "c", "d", "e"], "rows": rows, "row_count": 900, "truncated": true}
        });
        let r = render(&view("sql_result", &payload), "http://x");
        assert!(r.text.len() < 3 * MAX_TABLE_BYTES, "{}", r.text.len());
        assert!(r.text.contains("of 900 rows kept by the task"));
        assert!(r.text.contains("more rows than the task keeps"));
        let shown = r.json["result"]["rows"].as_array().unwrap().len();
        assert!(shown < 100 && shown > 10, "{shown}");
        assert_eq!(r.json["result"]["truncated"], true);
    }

    #[test]
    fn statements_report_rows_affected() {
        let payload = json!({
            "instance": instance("running"),
            "task": {"id": 5, "name": "load"},
            "result": {"rows_affected": 12}
        });
        let r = render(&view("sql_result", &payload), "http://x");
        assert_eq!(
            r.subject,
            "[pgdag] demo/hello_pipeline #42 task load: query result (12 rows affected)"
        );
    }

    #[test]
    fn failover_lists_the_attempts_with_their_pages() {
        let payload = json!({
            "server_id": 3, "server": "w1:99",
            "task_instances": [
                {"id": 8, "name": "a", "state": "need_failover", "workflow_instance_id": 42,
                 "project": "demo", "workflow": "w"},
                {"id": 9, "name": "b", "state": "failed", "workflow_instance_id": 43}
            ]
        });
        let r = render(&view("failover", &payload), "http://x");
        assert_eq!(
            r.subject,
            "[pgdag] server w1:99 declared dead: 2 task attempts taken back"
        );
        assert!(r.text.contains("http://x/instances/42"));
        assert!(r.text.contains("on_worker_loss: fail"));
        assert_eq!(r.json["server"], "w1:99");
        assert_eq!(r.json["task_instances"][1]["id"], 9);
        assert_eq!(r.json["url"], Value::Null);
    }

    #[test]
    fn unknown_kinds_and_odd_payloads_render_without_failing() {
        for payload in [
            json!(null),
            json!([1, 2]),
            json!("text"),
            json!({"instance": 5}),
        ] {
            for kind in [
                "workflow_end",
                "workflow_timeout",
                "sla_miss",
                "task_timeout",
                "failover",
                "sql_result",
                "dependent_failed",
                "test",
                "custom",
            ] {
                let r = render(&view(kind, &payload), "http://x");
                assert!(r.subject.starts_with("[pgdag] "), "{kind}: {}", r.subject);
                assert!(!r.subject.contains('\n'));
            }
        }
        let payload = json!({"subject": "disk\nfull", "message": "97 % used"});
        let r = render(&view("custom", &payload), "http://x");
        assert_eq!(r.subject, "[pgdag] disk full");
        assert!(r.text.contains("97 % used"));
    }

    #[test]
    fn durations_and_tails() {
        assert_eq!(format_duration(850), "850ms");
        assert_eq!(format_duration(42_100), "42s");
        assert_eq!(format_duration(185_000), "3m 5s");
        assert_eq!(format_duration(7_207_000), "2h 0m 7s");
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("", 2), "");
    }
}
