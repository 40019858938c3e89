use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::model::{
    Condition, Duration, ExecutionType, FailureStrategy, OnWorkerLoss, Priority, Release, TaskType,
};

const DESIGN_EXAMPLE: &str = r#"project: analytics
name: daily_sales
description: Load yesterday's sales
params: { region: eu, dt: "${system.biz.date}" }
failure_strategy: end          # continue | end
priority: medium               # highest | high | medium | low | lowest
execution: parallel            # parallel | serial_wait | serial_discard | serial_priority
worker_group: default
timeout: 2h                    # optional
notify: { when: failure, group: oncall }   # when: none | success | failure | always
release: online                # online | offline (offline: not runnable, not scheduled)
schedule: { cron: "0 0 2 * * ?", timezone: Europe/Berlin, start: 2026-01-01, end: 2027-01-01, misfire: fire_once }
tasks:
  - name: extract
    type: shell
    script: |
      echo "extract ${region} ${dt}"
      echo '${setValue(rows=42)}'
    retries: 2
    retry_interval: 30s
    timeout: { after: 10m, strategy: fail }
  - name: load
    type: sql
    datasource: warehouse
    sql: "insert into sales_log values ('${dt}', ${rows})"
    depends_on: [extract]
  - name: cleanup
    type: shell
    script: echo cleanup
    depends_on: [{ task: load, on: failure }, { task: extract, on: always, delay: 5m }]
"#;

const DESIGN_RESOURCES: &str = r#"kind: datasource
project: analytics
name: warehouse
type: postgres                 # postgres | mysql
url: postgres://etl@db.internal:5432/warehouse
password_env: WAREHOUSE_PASSWORD   # or `password:`, stored encrypted; never shown back
---
kind: alert_group
name: oncall
channels:
  - { type: email, to: [data-oncall@example.com], smtp: { host: smtp.example.com, port: 587, starttls: true, from: pgdag@example.com, user: pgdag, password_env: SMTP_PASSWORD } }
  - { type: webhook, url: https://hooks.example.com/pgdag }
"#;

fn workflow(text: &str) -> WorkflowSpec {
    match parse_documents("t.yaml", text) {
        Ok(mut docs) => match docs.pop() {
            Some(Document::Workflow(w)) if docs.is_empty() => w,
            other => panic!("expected one workflow, got {other:?}"),
        },
        Err(errors) => panic!("unexpected errors: {errors:#?}"),
    }
}

fn errors(text: &str) -> Vec<SpecError> {
    match parse_documents("t.yaml", text) {
        Ok(docs) => panic!("expected errors, parsed {docs:#?}"),
        Err(errors) => errors,
    }
}

/// The one error of `text`, which must be at `line` and contain `message`.
#[track_caller]
fn assert_error(text: &str, line: usize, message: &str) {
    let errors = errors(text);
    assert!(
        errors.len() == 1 && errors[0].line == line && errors[0].message.contains(message),
        "expected one error at line {line} containing {message:?}, got {errors:#?}"
    );
}

/// A valid workflow with `tasks` appended at line 4.
fn with_tasks(tasks: &str) -> String {
    format!("project: p\nname: w\ntasks:\n{tasks}")
}

// ---- the DESIGN examples ----

#[test]
fn the_design_example_parses() {
    let w = workflow(DESIGN_EXAMPLE);
    assert_eq!(
        (w.project.as_str(), w.name.as_str()),
        ("analytics", "daily_sales")
    );
    assert_eq!(w.description, "Load yesterday's sales");
    assert_eq!(w.params["region"], "eu");
    assert_eq!(w.params["dt"], "${system.biz.date}");
    assert_eq!(w.failure_strategy, FailureStrategy::End);
    assert_eq!(w.priority, Priority::Medium);
    assert_eq!(w.execution, ExecutionType::Parallel);
    assert_eq!(w.worker_group, "default");
    assert_eq!(w.timeout, Some(Duration::from_secs(7200)));
    assert_eq!(
        w.notify,
        Some(NotifySpec {
            when: NotifyWhen::Failure,
            group: Some("oncall".into())
        })
    );
    assert_eq!(w.release, Release::Online);
    assert_eq!(
        w.schedule,
        Some(ScheduleSpec {
            cron: "0 0 2 * * ?".into(),
            timezone: "Europe/Berlin".into(),
            start: Some("2026-01-01".into()),
            end: Some("2027-01-01".into()),
            misfire: Misfire::FireOnce,
            enabled: true,
        })
    );

    let names: Vec<&str> = w.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["extract", "load", "cleanup"]);
    let lines: Vec<usize> = w.tasks.iter().map(|t| t.line).collect();
    assert_eq!(lines, [14, 22, 27]);

    let extract = &w.tasks[0];
    assert_eq!(extract.task_type(), TaskType::Shell);
    assert_eq!(
        extract.kind,
        TaskKind::Shell(ScriptTask {
            script: "echo \"extract ${region} ${dt}\"\necho '${setValue(rows=42)}'\n".into()
        })
    );
    assert_eq!(extract.retries, 2);
    assert_eq!(extract.retry_interval, Some(Duration::from_secs(30)));
    assert_eq!(
        extract.timeout,
        Some(TaskTimeout {
            after: Duration::from_secs(600),
            strategy: TimeoutStrategy::Fail
        })
    );

    let load = &w.tasks[1];
    assert_eq!(
        load.kind,
        TaskKind::Sql(SqlTask {
            datasource: "warehouse".into(),
            sql: "insert into sales_log values ('${dt}', ${rows})".into(),
            kind: SqlKind::Query,
            send_result_to: None,
        })
    );
    assert_eq!(load.depends_on, [DependsOn::on_success("extract")]);

    let cleanup = &w.tasks[2];
    assert_eq!(
        cleanup.depends_on,
        [
            DependsOn {
                task: "load".into(),
                on: Condition::Failure,
                delay: None
            },
            DependsOn {
                task: "extract".into(),
                on: Condition::Always,
                delay: Some(Duration::from_secs(300))
            },
        ]
    );
}

#[test]
fn unavailable_features_of_the_design_example_are_named_at_their_lines() {
    let w = workflow(DESIGN_EXAMPLE);
    let found: Vec<(usize, String)> = unavailable_features("t.yaml", &Document::Workflow(w))
        .into_iter()
        .map(|e| (e.line, e.message))
        .collect();
    assert_eq!(
        found,
        [
            (10, "notify is not available yet".to_string()),
            (23, "task type sql is not available yet".to_string()),
        ]
    );
}

#[test]
fn unavailable_features_cover_task_types_and_other_kinds() {
    let w = workflow(&format!(
        "project: p\nname: w\nexecution: serial_wait\nnotify: {{when: none}}\ntasks:\n{}",
        "  - {name: a, type: empty, task_group: etl}\n  - {name: b, type: http, url: http://x}\n"
    ));
    let found: Vec<(usize, String)> = unavailable_features("t.yaml", &Document::Workflow(w))
        .into_iter()
        .map(|e| (e.line, e.message))
        .collect();
    assert_eq!(
        found,
        [(7, "task type http is not available yet".to_string()),]
    );

    let docs = parse_documents("r.yaml", DESIGN_RESOURCES).unwrap();
    let found: Vec<String> = docs
        .iter()
        .flat_map(|d| unavailable_features("r.yaml", d))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        found,
        [
            "r.yaml:1:1: documents of kind datasource are not available yet",
            "r.yaml:8:1: documents of kind alert_group are not available yet",
        ]
    );
    let plain = workflow(&with_tasks("  - {name: a, type: shell, script: x}\n"));
    assert!(unavailable_features("t.yaml", &Document::Workflow(plain)).is_empty());
}

#[test]
fn a_file_holds_a_workflow_a_datasource_and_an_alert_group() {
    let text = format!("{DESIGN_EXAMPLE}---\n{DESIGN_RESOURCES}");
    let docs = parse_documents("all.yaml", &text).unwrap();
    assert_eq!(docs.len(), 3);
    let kinds: Vec<&str> = docs.iter().map(Document::kind).collect();
    assert_eq!(kinds, ["workflow", "datasource", "alert_group"]);

    let Document::Datasource(ds) = &docs[1] else {
        panic!()
    };
    assert_eq!(
        *ds,
        DatasourceSpec {
            project: "analytics".into(),
            name: "warehouse".into(),
            db_type: DatasourceType::Postgres,
            url: "postgres://etl@db.internal:5432/warehouse".into(),
            password_env: Some("WAREHOUSE_PASSWORD".into()),
            password: None,
            source: SourceMap::default(),
        }
    );
    assert_eq!(ds.source.pos("").line, 32);

    let Document::AlertGroup(group) = &docs[2] else {
        panic!()
    };
    assert_eq!(group.name, "oncall");
    assert_eq!(
        group.channels,
        [
            AlertChannel::Email(EmailChannel {
                to: vec!["data-oncall@example.com".into()],
                smtp: SmtpSpec {
                    host: "smtp.example.com".into(),
                    port: 587,
                    starttls: true,
                    tls: None,
                    from: "pgdag@example.com".into(),
                    user: Some("pgdag".into()),
                    password_env: Some("SMTP_PASSWORD".into()),
                    password: None,
                },
            }),
            AlertChannel::Webhook(WebhookChannel {
                url: "https://hooks.example.com/pgdag".into(),
                headers: BTreeMap::new(),
            }),
        ]
    );
}

#[test]
fn an_empty_file_has_no_documents() {
    assert_eq!(parse_documents("e.yaml", "").unwrap(), []);
    assert_eq!(parse_documents("e.yaml", "# nothing\n---\n").unwrap(), []);
}

// ---- defaults and scalars ----

#[test]
fn defaults_are_applied() {
    let w = workflow(&with_tasks(concat!(
        "  - {name: a, type: shell, script: x}\n",
        "  - {name: b, type: sql, datasource: d, sql: select 1, depends_on: [a]}\n",
        "  - {name: c, type: http, url: 'http://x', timeout: 10s}\n",
        "  - name: d\n",
        "    type: empty\n",
        "    depends_on: [{task: a}]\n",
        "    timeout: {after: 1m}\n",
    )));
    assert_eq!(w.description, "");
    assert!(w.params.is_empty());
    assert_eq!(w.failure_strategy, FailureStrategy::Continue);
    assert_eq!(w.priority, Priority::Medium);
    assert_eq!(w.execution, ExecutionType::Parallel);
    assert_eq!(w.worker_group, "default");
    assert_eq!(w.timeout, None);
    assert_eq!(w.notify, None);
    assert_eq!(w.release, Release::Online);
    assert_eq!(w.schedule, None);

    let a = &w.tasks[0];
    assert_eq!(a.retries, 0);
    assert!(a.run);
    assert_eq!(a.on_worker_loss, OnWorkerLoss::Retry);
    assert_eq!(
        (a.priority, &a.worker_group, &a.task_group),
        (None, &None, &None)
    );
    assert_eq!((a.retry_interval, &a.timeout), (None, &None));
    assert!(a.params.is_empty() && a.depends_on.is_empty());

    let TaskKind::Sql(sql) = &w.tasks[1].kind else {
        panic!()
    };
    assert_eq!(sql.kind, SqlKind::Query);
    let TaskKind::Http(http) = &w.tasks[2].kind else {
        panic!()
    };
    assert_eq!(http.method, HttpMethod::Get);
    assert_eq!(
        w.tasks[2].timeout,
        Some(TaskTimeout {
            after: Duration::from_secs(10),
            strategy: TimeoutStrategy::Fail
        })
    );
    assert_eq!(w.tasks[3].depends_on, [DependsOn::on_success("a")]);
    assert_eq!(
        w.tasks[3].timeout.as_ref().map(|t| t.strategy),
        Some(TimeoutStrategy::Fail)
    );

    let s = workflow(
        "project: p\nname: w\nschedule: {cron: '0 2 * * *'}\nnotify: {group: g}\ntasks: [{name: a, type: empty}]\n",
    );
    let schedule = s.schedule.unwrap();
    assert_eq!(schedule.timezone, "UTC");
    assert_eq!(schedule.misfire, Misfire::FireOnce);
    assert!(schedule.enabled);
    assert_eq!((schedule.start, schedule.end), (None, None));
    assert_eq!(s.notify.unwrap().when, NotifyWhen::Failure);
}

#[test]
fn scalars_keep_their_source_text() {
    let w = workflow(
        "project: p\nname: w\nparams: {a: 1.10, b: true, c: 007, d: no, e: ~, f: 0x1F, g: '1.10', h: on}\ntasks: [{name: a, type: shell, script: 42}]\n",
    );
    let params: Vec<(&str, &str)> = w
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        params,
        [
            ("a", "1.10"),
            ("b", "true"),
            ("c", "007"),
            ("d", "no"),
            ("e", ""),
            ("f", "0x1F"),
            ("g", "1.10"),
            ("h", "on"),
        ]
    );
    assert_eq!(
        w.tasks[0].kind,
        TaskKind::Shell(ScriptTask {
            script: "42".into()
        })
    );
}

#[test]
fn anchors_aliases_and_merge_keys_work() {
    let w = workflow(concat!(
        "project: p\n",
        "name: w\n",
        "tasks:\n",
        "  - &base {name: a, type: shell, script: echo, retries: 3}\n",
        "  - <<: *base\n",
        "    name: b\n",
        "    depends_on: [a]\n",
    ));
    assert_eq!(w.tasks[1].retries, 3);
    assert_eq!(w.tasks[1].kind, w.tasks[0].kind);
    assert_eq!(w.tasks[1].line, 6);
}

#[test]
fn a_task_line_is_the_line_of_its_name() {
    let w = workflow(&with_tasks(
        "  - type: empty\n    run: false\n    name: a\n",
    ));
    assert_eq!(w.tasks[0].line, 6);
    assert!(!w.tasks[0].run);
}

#[test]
fn every_task_type_parses() {
    let w = workflow(&with_tasks(concat!(
        "  - {name: sh, type: shell, script: echo}\n",
        "  - {name: py, type: python, script: 'print(1)'}\n",
        "  - {name: q, type: sql, datasource: dw, sql: select 1, kind: statement, send_result_to: oncall}\n",
        "  - {name: pr, type: procedure, datasource: dw, call: 'call x()'}\n",
        "  - {name: h, type: http, url: 'https://x/y', method: post, headers: {X-Token: t}, body: '{}', expect_status: 200-299}\n",
        "  - {name: h2, type: http, url: '${base}/y', expect_status: [200, 204]}\n",
        "  - {name: h3, type: http, url: 'http://x', expect_status: 201}\n",
        "  - {name: sub, type: sub_process, workflow: other/child}\n",
        "  - {name: sub2, type: sub_process, workflow: child}\n",
        "  - {name: dep, type: dependent, any: [{workflow: w2, window: today}, {workflow: p/w3, task: t, window: last_7_days}]}\n",
        "  - {name: cond, type: conditions, success: [sh], failure: [py, q]}\n",
        "  - {name: sw, type: switch, cases: [{when: '${x} > 3', then: sh}], default: py}\n",
        "  - {name: sp, type: spark, main: app.jar, master: yarn, deploy_mode: cluster, args: [a, 1], conf: {spark.x: 2}}\n",
        "  - {name: mr, type: mr, jar: wc.jar, main_class: WordCount, args: [in, out]}\n",
        "  - {name: e, type: empty}\n",
    )));
    let types: Vec<TaskType> = w.tasks.iter().map(TaskSpec::task_type).collect();
    use TaskType::*;
    assert_eq!(
        types,
        [
            Shell, Python, Sql, Procedure, Http, Http, Http, SubProcess, SubProcess, Dependent,
            Conditions, Switch, Spark, Mr, Empty
        ]
    );
    let TaskKind::Http(h) = &w.tasks[4].kind else {
        panic!()
    };
    assert_eq!(h.method, HttpMethod::Post);
    assert_eq!(
        h.expect_status,
        Some(ExpectStatus::Range { from: 200, to: 299 })
    );
    assert!(h.expect_status.as_ref().unwrap().matches(250));
    let TaskKind::Http(h3) = &w.tasks[6].kind else {
        panic!()
    };
    assert_eq!(h3.expect_status, Some(ExpectStatus::Codes(vec![201])));
    let TaskKind::SubProcess(sub) = &w.tasks[7].kind else {
        panic!()
    };
    assert_eq!(sub.target(), (Some("other"), "child"));
    let TaskKind::Dependent(dep) = &w.tasks[9].kind else {
        panic!()
    };
    assert_eq!(dep.op, DependentOp::Any);
    assert_eq!(dep.items[1].window, DependentWindow::Last7Days);
    let TaskKind::Spark(sp) = &w.tasks[12].kind else {
        panic!()
    };
    assert_eq!(sp.args, ["a", "1"]);
    assert_eq!(sp.conf["spark.x"], "2");
}

// ---- errors: syntax and document shape ----

#[test]
fn syntax_errors_carry_the_parser_position() {
    let errors = errors("project: p\nname: w: x\ntasks: []\n");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        errors[0].to_string(),
        "t.yaml:2:8: mapping values are not allowed in this context"
    );

    let errors = errors_of("project: p\n  name: w\n");
    assert_eq!(errors[0].line, 2, "{errors:#?}");
}

fn errors_of(text: &str) -> Vec<SpecError> {
    parse_documents("t.yaml", text).unwrap_err()
}

#[test]
fn a_document_must_be_a_mapping_of_a_known_kind() {
    assert_error("- a\n- b\n", 1, "a document must be a mapping, not a list");
    assert_error(
        "project: p\nname: w\ntasks: [{name: a, type: empty}]\n---\nhello\n",
        5,
        "a document must be a mapping",
    );
    assert_error("kind: pipeline\nname: x\n", 1, "unknown kind `pipeline`");
}

#[test]
fn errors_render_as_file_line_column_message() {
    let e = &errors("project: p\nname: w\ncolour: red\ntasks: [{name: a, type: empty}]\n")[0];
    assert_eq!(
        e.to_string(),
        "t.yaml:3:1: unknown key `colour` in workflow (expected one of: kind, project, name, description, params, failure_strategy, priority, execution, worker_group, timeout, notify, release, schedule, tasks)"
    );
}

#[test]
fn repeated_keys_are_rejected_at_the_second() {
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    name: b\n"),
        6,
        "duplicate key `name` in a task (first at line 4)",
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let flow = format!(
        "project: p\nname: w\nparams: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(!errors(&flow).is_empty());
    let mut block = String::from("project: p\n");
    for depth in 0..5_000 {
        block.push_str(&" ".repeat(depth));
        block.push_str("a:\n");
    }
    assert!(!errors(&block).is_empty());
    let json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse_workflow_json("j", &json).is_err());
}

#[test]
fn http_tasks_are_checked() {
    assert_error(
        &with_tasks("  - {name: h, type: http, url: 'ftp://x'}\n"),
        4,
        "`url` must start with http:// or https://",
    );
    assert_error(
        &with_tasks("  - {name: h, type: http, url: 'http://x', method: FETCH}\n"),
        4,
        "\"FETCH\" is not a valid http method",
    );
    assert_error(
        &with_tasks("  - {name: h, type: http, url: 'http://x', expect_status: 299-200}\n"),
        4,
        "\"299-200\" is not a status range",
    );
    assert_error(
        &with_tasks("  - {name: h, type: http, url: 'http://x', expect_status: [200, 700]}\n"),
        4,
        "`expect_status` must be between 100 and 599, not 700",
    );
    assert_error(
        &with_tasks("  - {name: h, type: http, url: 'http://x', headers: {'bad header': x}}\n"),
        4,
        "invalid key \"bad header\" in `headers`: not a valid HTTP header name",
    );
}

#[test]
fn dependent_tasks_take_all_or_any() {
    assert_error(
        &with_tasks("  - {name: d, type: dependent}\n"),
        4,
        "a dependent task needs `all: [...]` or `any: [...]`",
    );
    assert_error(
        &with_tasks(
            "  - {name: d, type: dependent, all: [{workflow: w, window: today}], any: []}\n",
        ),
        4,
        "a dependent task takes `all` or `any`, not both",
    );
    assert_error(
        &with_tasks("  - {name: d, type: dependent, all: [{workflow: w, window: yesterday}]}\n"),
        4,
        "\"yesterday\" is not a valid dependent window",
    );
    assert_error(
        &with_tasks("  - {name: d, type: dependent, all: [{workflow: w}]}\n"),
        4,
        "missing required key `window` in dependent item",
    );
}

// ---- errors: keys and values ----

#[test]
fn unknown_keys_are_rejected_everywhere() {
    assert_error(
        &with_tasks("  - name: a\n    type: shell\n    script: x\n    sql: select 1\n"),
        7,
        "unknown key `sql` for task type shell",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    retry: 3\n"),
        6,
        "unknown key `retry` for task type empty",
    );
    assert_error(
        "project: p\nname: w\nschedule:\n  cron: '* * * * *'\n  tz: UTC\ntasks: [{name: a, type: empty}]\n",
        5,
        "unknown key `tz` in schedule",
    );
    assert_error(
        &with_tasks(
            "  - name: a\n    type: empty\n    depends_on: [{task: b, when: failure}]\n  - {name: b, type: empty}\n",
        ),
        6,
        "unknown key `when` in depends_on entry",
    );
}

#[test]
fn unknown_task_types_list_the_known_ones() {
    assert_error(
        &with_tasks("  - name: a\n    type: foo\n"),
        5,
        "unknown task type `foo` (expected one of: shell, python, sql, procedure, http, sub_process, dependent, conditions, switch, spark, mr, empty)",
    );
}

#[test]
fn missing_required_keys_are_named() {
    assert_error(
        "name: w\ntasks: [{name: a, type: empty}]\n",
        1,
        "missing required key `project` in workflow",
    );
    assert_error(
        &with_tasks("  - type: empty\n"),
        4,
        "missing required key `name` in task",
    );
    assert_error(
        &with_tasks("  - name: a\n"),
        4,
        "missing required key `type` in task",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: shell\n"),
        4,
        "missing required key `script` in task of type shell",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: shell\n    script:\n"),
        6,
        "`script` in task of type shell needs a value",
    );
}

#[test]
fn wrong_value_types_are_rejected() {
    assert_error(
        &with_tasks("  - {name: a, type: empty, retries: two}\n"),
        4,
        "`retries` must be a whole number, not \"two\"",
    );
    assert_error(
        &with_tasks("  - {name: a, type: empty, run: yes}\n"),
        4,
        "`run` must be true or false, not \"yes\"",
    );
    assert_error(
        &with_tasks("  - {name: a, type: shell, script: [echo]}\n"),
        4,
        "`script` must be a string, not a list",
    );
    assert_error(
        "project: p\nname: w\ntasks: {a: 1}\n",
        3,
        "`tasks` must be a list, not a mapping",
    );
    assert_error(
        "project: p\nname: w\nparams: {a: [1]}\ntasks: [{name: a, type: empty}]\n",
        3,
        "`params.a` must be a string, not a list",
    );
}

#[test]
fn bad_enum_values_and_durations_are_rejected() {
    assert_error(
        "project: p\nname: w\npriority: urgent\ntasks: [{name: a, type: empty}]\n",
        3,
        "invalid `priority`: \"urgent\" is not a valid priority (expected one of: highest, high, medium, low, lowest)",
    );
    assert_error(
        "project: p\nname: w\nfailure_strategy: stop\ntasks: [{name: a, type: empty}]\n",
        3,
        "\"stop\" is not a valid failure strategy",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    on_worker_loss: ignore\n"),
        6,
        "is not a valid on_worker_loss",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    retry_interval: 30\n"),
        6,
        "invalid `retry_interval`: \"30\" is not a duration",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    timeout: {after: 1x, strategy: fail}\n"),
        6,
        "invalid `after`",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    timeout: {after: 1m, strategy: kill}\n"),
        6,
        "\"kill\" is not a valid timeout strategy",
    );
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty, depends_on: [{task: b, on: maybe}]}\n  - {name: b, type: empty}\n",
        ),
        4,
        "\"maybe\" is not a valid relation condition",
    );
}

#[test]
fn names_are_checked() {
    assert_error(
        "project: ''\nname: w\ntasks: [{name: a, type: empty}]\n",
        1,
        "invalid project name \"\": must not be empty",
    );
    assert_error(
        "project: p\nname: a/b\ntasks: [{name: a, type: empty}]\n",
        2,
        "invalid workflow name \"a/b\": contains '/'",
    );
    assert_error(
        &with_tasks("  - {name: 'my task', type: empty}\n"),
        4,
        "invalid task name \"my task\": contains ' '",
    );
    let long = "x".repeat(MAX_NAME_LEN + 1);
    assert_error(
        &with_tasks(&format!("  - {{name: {long}, type: empty}}\n")),
        4,
        "is longer than 100 characters",
    );
    let just_right = "x".repeat(MAX_NAME_LEN);
    workflow(&with_tasks(&format!(
        "  - {{name: {just_right}, type: empty}}\n"
    )));
    workflow(&with_tasks("  - {name: A-z_0.9, type: empty}\n"));
    assert_error(
        &with_tasks("  - {name: a, type: empty, worker_group: 'gpu pool'}\n"),
        4,
        "invalid worker_group \"gpu pool\"",
    );
    assert_error(
        &with_tasks("  - {name: '..', type: empty}\n"),
        4,
        "must not be `.` or `..`",
    );
}

#[test]
fn retries_are_capped() {
    workflow(&with_tasks("  - {name: a, type: empty, retries: 100}\n"));
    assert_error(
        &with_tasks("  - {name: a, type: empty, retries: 101}\n"),
        4,
        "`retries` must be between 0 and 100, not 101",
    );
    assert_error(
        &with_tasks("  - {name: a, type: empty, retries: -1}\n"),
        4,
        "`retries` must be between 0 and 100, not -1",
    );
}

// ---- errors: relations between tasks ----

#[test]
fn duplicate_task_names_point_at_the_second() {
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty}\n  - {name: b, type: empty}\n  - {name: a, type: empty}\n",
        ),
        6,
        "duplicate task name `a` (first defined at line 4)",
    );
}

#[test]
fn depends_on_must_name_other_existing_tasks_once() {
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty}\n  - name: b\n    type: empty\n    depends_on: [a, c]\n",
        ),
        7,
        "depends_on names unknown task `c`",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    depends_on: [a]\n"),
        6,
        "task `a` depends on itself",
    );
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty}\n  - name: b\n    type: empty\n    depends_on:\n      - a\n      - {task: a, on: failure}\n",
        ),
        9,
        "duplicate depends_on entry `a`",
    );
}

#[test]
fn a_cycle_names_its_tasks_at_the_first_of_them() {
    let text = with_tasks(concat!(
        "  - {name: start, type: empty}\n",
        "  - {name: a, type: empty, depends_on: [start, c]}\n",
        "  - {name: b, type: empty, depends_on: [a]}\n",
        "  - {name: c, type: empty, depends_on: [b]}\n",
    ));
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].message, "cycle: a -> b -> c -> a");
    // The position of the `name` key of `a`.
    assert_eq!((errors[0].line, errors[0].column), (5, 6));
}

#[test]
fn branch_targets_must_exist() {
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty}\n  - {name: c, type: conditions, success: [a], failure: [zz]}\n",
        ),
        5,
        "conditions branch names unknown task `zz`",
    );
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty}\n  - {name: s, type: switch, cases: [{when: '1 > 0', then: a}], default: nope}\n",
        ),
        5,
        "switch branch names unknown task `nope`",
    );
    assert_error(
        &with_tasks("  - {name: s, type: switch, cases: [{when: '1 > 0', then: s}]}\n"),
        4,
        "switch task `s` cannot branch to itself",
    );
    assert_error(
        &with_tasks("  - {name: c, type: conditions}\n"),
        4,
        "a conditions task needs `success: [tasks]` or `failure: [tasks]`",
    );
}

#[test]
fn sub_process_names_w_or_p_slash_w() {
    workflow(&with_tasks(
        "  - {name: a, type: sub_process, workflow: w2}\n",
    ));
    workflow(&with_tasks(
        "  - {name: a, type: sub_process, workflow: p2/w2}\n",
    ));
    assert_error(
        &with_tasks("  - {name: a, type: sub_process, workflow: p/w/x}\n"),
        4,
        "invalid `workflow` \"p/w/x\" (write W or P/W)",
    );
    assert_error(
        &with_tasks("  - {name: a, type: sub_process, workflow: /w}\n"),
        4,
        "project name must not be empty",
    );
}

#[test]
fn a_workflow_needs_tasks() {
    assert_error(
        "project: p\nname: w\ntasks: []\n",
        3,
        "workflow has no tasks",
    );
    assert_error("project: p\nname: w\n", 1, "workflow has no tasks");
}

#[test]
fn every_error_of_a_file_is_reported() {
    let text = concat!(
        "project: p\n",
        "name: w\n",
        "priority: urgent\n",
        "tasks:\n",
        "  - {name: a, type: shell}\n",
        "  - {name: b, type: empty, depends_on: [x]}\n",
        "---\n",
        "project: p\n",
        "name: w2\n",
        "tasks: [{name: a, type: bogus}]\n",
    );
    let found: Vec<(usize, bool)> = errors(text)
        .iter()
        .map(|e| (e.line, e.file == "t.yaml"))
        .collect();
    assert_eq!(found, [(3, true), (5, true), (6, true), (10, true)]);
}

// ---- errors: schedule, notify and the other kinds ----

#[test]
fn schedule_and_notify_are_checked() {
    let wf =
        |extra: &str| format!("project: p\nname: w\n{extra}\ntasks: [{{name: a, type: empty}}]\n");
    assert_error(
        &wf("schedule: {cron: '0 2 * *'}"),
        3,
        "cron expression \"0 2 * *\" has 4 fields (expected 5, 6 or 7)",
    );
    assert_error(
        &wf("schedule: {cron: '0 2 * * *', timezone: Europe/Berln}"),
        3,
        "unknown time zone \"Europe/Berln\"",
    );
    assert_error(
        &wf("schedule: {cron: '0 2 * * *', start: 2026-02-30}"),
        3,
        "invalid schedule `start` \"2026-02-30\"",
    );
    assert_error(
        &wf("schedule:\n  cron: '0 2 * * *'\n  start: 2026-02-01\n  end: 2026-01-01T00:00:00"),
        6,
        "schedule `end` must be after `start`",
    );
    assert_error(
        &wf("schedule: {cron: '0 2 * * *', misfire: replay}"),
        3,
        "\"replay\" is not a valid misfire policy",
    );
    assert_error(&wf("notify: {when: failure}"), 3, "notify needs a `group`");
    assert_error(
        &wf("notify: {when: always, group: }"),
        3,
        "notify needs a `group`",
    );
    assert_eq!(
        workflow(&wf("notify: {when: none}")).notify,
        Some(NotifySpec {
            when: NotifyWhen::None,
            group: None
        })
    );
    let w = workflow(&wf(
        "schedule: {cron: '0 0 2 ? * MON-FRI', start: '2026-01-01T00:00:00+01:00', end: '2026-06-01T00:00:00Z', enabled: false, misfire: skip}",
    ));
    let s = w.schedule.unwrap();
    assert!(!s.enabled);
    assert_eq!(s.misfire, Misfire::Skip);
}

#[test]
fn datasources_and_alert_groups_are_checked() {
    assert_error(
        "kind: datasource\nproject: p\nname: d\ntype: postgres\nurl: mysql://x\n",
        5,
        "the url of a postgres datasource must start with postgres:// or postgresql://",
    );
    assert_error(
        "kind: datasource\nproject: p\nname: d\ntype: oracle\nurl: x\n",
        4,
        "\"oracle\" is not a valid datasource type",
    );
    assert_error(
        "kind: datasource\nproject: p\nname: d\ntype: mysql\nurl: mysql://x\npassword_env: PW\npassword: secret\n",
        7,
        "set `password` or `password_env`, not both",
    );
    assert_error(
        "kind: alert_group\nname: g\nchannels:\n  - {type: email, to: [nobody], smtp: {host: h, port: 25, from: a@b}}\n",
        4,
        "\"nobody\" is not an email address",
    );
    assert_error(
        "kind: alert_group\nname: g\nchannels:\n  - {type: pager, url: 'http://x'}\n",
        4,
        "unknown channel type `pager`",
    );
    assert_error(
        "kind: alert_group\nname: g\nchannels:\n  - {type: email, to: [a@b], smtp: {host: h, port: 70000, from: a@b}}\n",
        4,
        "`port` must be between 1 and 65535",
    );
    assert_error(
        "kind: alert_group\nname: g\nproject: p\nchannels: [{type: webhook, url: 'http://x'}]\n",
        3,
        "unknown key `project` in alert_group",
    );
}

#[test]
fn a_thing_defined_twice_in_one_file_is_an_error() {
    let doc = "project: p\nname: w\ntasks: [{name: a, type: empty}]\n";
    assert_error(
        &format!("{doc}---\n{doc}"),
        6,
        "workflow p/w is defined twice in this file (first at line 2)",
    );
}

// ---- export and round trips ----

fn rich_spec() -> WorkflowSpec {
    let task = |name: &str, kind: TaskKind| TaskSpec {
        name: name.into(),
        kind,
        depends_on: Vec::new(),
        params: ParamMap::new(),
        priority: None,
        worker_group: None,
        task_group: None,
        retries: 0,
        retry_interval: None,
        timeout: None,
        run: true,
        on_worker_loss: OnWorkerLoss::Retry,
        line: 0,
        source: SourceMap::default(),
    };
    let mut first = task(
        "extract",
        TaskKind::Shell(ScriptTask {
            script: "set -e\n  echo \"${region}\" 'x' # not a comment\n\techo done\n".into(),
        }),
    );
    first.params = [
        ("n".to_string(), "1.10".to_string()),
        ("flag".into(), "yes".into()),
    ]
    .into();
    first.priority = Some(Priority::Highest);
    first.worker_group = Some("gpu".into());
    first.task_group = Some("etl".into());
    first.retries = 5;
    first.retry_interval = Some(Duration::from_millis(1500));
    first.timeout = Some(TaskTimeout {
        after: Duration::from_secs(90),
        strategy: TimeoutStrategy::WarnAndFail,
    });
    first.run = false;
    first.on_worker_loss = OnWorkerLoss::Fail;
    let mut tasks = vec![
        first,
        task(
            "py",
            TaskKind::Python(ScriptTask {
                script: "print('hi')".into(),
            }),
        ),
        task(
            "q",
            TaskKind::Sql(SqlTask {
                datasource: "dw".into(),
                sql: "select 1;\n".into(),
                kind: SqlKind::Statement,
                send_result_to: Some("oncall".into()),
            }),
        ),
        task(
            "proc",
            TaskKind::Procedure(ProcedureTask {
                datasource: "dw".into(),
                call: "call refresh()".into(),
            }),
        ),
        task(
            "web",
            TaskKind::Http(HttpTask {
                url: "https://example.com/a?b=c#d".into(),
                method: HttpMethod::Delete,
                headers: [("Authorization".to_string(), "Bearer: x".to_string())].into(),
                body: Some("{\"a\": [1, 2]}".into()),
                expect_status: Some(ExpectStatus::Codes(vec![200, 404])),
            }),
        ),
        task(
            "web2",
            TaskKind::Http(HttpTask {
                url: "http://x".into(),
                method: HttpMethod::Get,
                headers: BTreeMap::new(),
                body: None,
                expect_status: Some(ExpectStatus::Range { from: 200, to: 299 }),
            }),
        ),
        task(
            "sub",
            TaskKind::SubProcess(SubProcessTask {
                workflow: "other/child".into(),
            }),
        ),
        task(
            "wait",
            TaskKind::Dependent(DependentTask {
                op: DependentOp::All,
                items: vec![
                    DependentItem {
                        workflow: "w2".into(),
                        task: Some("t".into()),
                        window: DependentWindow::LastMonth,
                    },
                    DependentItem {
                        workflow: "p2/w3".into(),
                        task: None,
                        window: DependentWindow::CurrentHour,
                    },
                ],
            }),
        ),
        task(
            "cond",
            TaskKind::Conditions(ConditionsTask {
                success: vec!["py".into()],
                failure: vec!["q".into(), "proc".into()],
            }),
        ),
        task(
            "sw",
            TaskKind::Switch(SwitchTask {
                cases: vec![SwitchCase {
                    when: "${x} > 3 && '${y}' == \"a\"".into(),
                    then: "web".into(),
                }],
                default: Some("web2".into()),
            }),
        ),
        task(
            "spark",
            TaskKind::Spark(SparkTask {
                main: "app.py".into(),
                master: Some("yarn".into()),
                deploy_mode: Some(DeployMode::Cluster),
                args: vec!["--x".into(), "1".into(), "".into(), "true".into()],
                conf: [("spark.executor.memory".to_string(), "2g".to_string())].into(),
            }),
        ),
        task(
            "mr",
            TaskKind::Mr(MrTask {
                jar: "wc.jar".into(),
                main_class: Some("org.WordCount".into()),
                args: vec!["in".into()],
            }),
        ),
        task("end", TaskKind::Empty),
    ];
    tasks[1].depends_on = vec![DependsOn::on_success("extract")];
    tasks[12].depends_on = vec![
        DependsOn::on_success("py"),
        DependsOn {
            task: "extract".into(),
            on: Condition::Always,
            delay: Some(Duration::from_secs(300)),
        },
        DependsOn {
            task: "q".into(),
            on: Condition::Failure,
            delay: None,
        },
    ];
    WorkflowSpec {
        project: "analytics".into(),
        name: "daily_sales".into(),
        description: "Line one: with colon\nline two # hash\n".into(),
        params: [
            ("dt".to_string(), "${system.biz.date}".to_string()),
            ("empty".into(), "".into()),
            ("num".into(), "007".into()),
            ("null".into(), "null".into()),
            ("quote".into(), "it's \"q\"".into()),
        ]
        .into(),
        failure_strategy: FailureStrategy::End,
        priority: Priority::Low,
        execution: ExecutionType::SerialPriority,
        worker_group: "etl".into(),
        timeout: Some(Duration::from_secs(7200)),
        notify: Some(NotifySpec {
            when: NotifyWhen::Always,
            group: Some("oncall".into()),
        }),
        release: Release::Offline,
        schedule: Some(ScheduleSpec {
            cron: "0 0 2 ? * MON-FRI".into(),
            timezone: "Europe/Berlin".into(),
            start: Some("2026-01-01".into()),
            end: Some("2027-01-01T00:00:00Z".into()),
            misfire: Misfire::Skip,
            enabled: false,
        }),
        tasks,
        source: SourceMap::default(),
    }
}

fn minimal_spec() -> WorkflowSpec {
    workflow("project: p\nname: w\ntasks: [{name: a, type: empty}]\n")
}

#[test]
fn to_yaml_round_trips_a_rich_spec() {
    let spec = rich_spec();
    let yaml = to_yaml(&spec);
    let back = workflow(&yaml);
    assert_eq!(back, spec, "exported:\n{yaml}");
    // Positions point into the exported text.
    assert_eq!(
        back.tasks[0].line,
        yaml.lines()
            .position(|l| l.contains("name: extract"))
            .unwrap()
            + 1
    );
}

#[test]
fn to_yaml_round_trips_a_minimal_spec_and_leaves_defaults_out() {
    let spec = minimal_spec();
    let yaml = to_yaml(&spec);
    assert_eq!(
        yaml.trim_end(),
        "project: p\nname: w\ntasks:\n  - name: a\n    type: empty"
    );
    assert_eq!(workflow(&yaml), spec);
}

#[test]
fn the_json_form_round_trips() {
    for spec in [rich_spec(), minimal_spec(), workflow(DESIGN_EXAMPLE)] {
        let json = serde_json::to_string(&spec).unwrap();
        let stored: WorkflowSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(stored, spec);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            json,
            "deterministic"
        );
        let posted = parse_workflow_json("api", &json).unwrap();
        assert_eq!(posted, spec);
        let pretty = serde_json::to_string_pretty(&spec).unwrap();
        assert_eq!(parse_workflow_json("api", &pretty).unwrap(), spec);
    }
}

#[test]
fn a_task_serializes_as_the_user_writes_it() {
    let w = workflow(DESIGN_EXAMPLE);
    assert_eq!(
        serde_json::to_value(&w.tasks[2]).unwrap(),
        serde_json::json!({
            "name": "cleanup",
            "type": "shell",
            "script": "echo cleanup",
            "depends_on": [
                {"task": "load", "on": "failure"},
                {"task": "extract", "on": "always", "delay": "5m"}
            ]
        })
    );
    assert_eq!(
        serde_json::to_value(&w.tasks[1]).unwrap(),
        serde_json::json!({
            "name": "load",
            "type": "sql",
            "datasource": "warehouse",
            "sql": "insert into sales_log values ('${dt}', ${rows})",
            "depends_on": ["extract"]
        })
    );
    let json = serde_json::to_string(&w).unwrap();
    assert!(
        !json.contains("\"line\"") && !json.contains("\"source\""),
        "{json}"
    );
}

#[test]
fn positions_are_not_part_of_equality() {
    let a = workflow("project: p\nname: w\ntasks: [{name: a, type: empty}]\n");
    let b = workflow("\n\n# moved\nproject: p\nname: w\ntasks:\n\n  - name: a\n    type: empty\n");
    assert_ne!(a.tasks[0].line, b.tasks[0].line);
    assert_eq!(a, b);
}

#[test]
fn json_errors_have_positions() {
    let errors = parse_workflow_json("api", "{\n  \"project\": \"p\",\n  \"name\": \"w\",\n  \"colour\": 1,\n  \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]\n}").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (4, 3));
    assert!(
        errors[0]
            .message
            .starts_with("unknown key `colour` in workflow")
    );

    let errors = parse_workflow_json("api", "{\"project\": \"p\",\n \"name\": }").unwrap_err();
    assert_eq!((errors[0].line, errors[0].column), (2, 10), "{errors:?}");
    assert_eq!(errors[0].message, "expected value");

    let errors = parse_workflow_json(
        "api",
        r#"{"kind": "datasource", "project": "p", "name": "d", "type": "mysql", "url": "mysql://x"}"#,
    )
    .unwrap_err();
    assert!(
        errors[0].message.contains("expected a workflow document"),
        "{errors:?}"
    );
}

// ---- property tests ----

fn arb_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => Just(' '),
        2 => Just('\n'),
        1 => proptest::sample::select(vec![
            '\t', '\r', '"', '\'', '#', ':', '-', '?', '|', '>', '&', '*', '!', '%', '@', '`',
            '{', '}', '[', ']', ',', '$', '\\', '~', '0', '1', '.', 'é', '\u{85}', '\u{2028}',
            '\u{feff}', '\u{0}', '\u{7f}', '\u{1b}', '😀',
        ]),
        1 => any::<char>(),
    ];
    proptest::collection::vec(ch, 0..24).prop_map(|cs| cs.into_iter().collect())
}

fn arb_nonblank() -> impl Strategy<Value = String> {
    arb_text().prop_filter("not blank", |s| !s.trim().is_empty())
}

fn arb_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

fn arb_duration() -> impl Strategy<Value = Duration> {
    (0u64..10_000_000).prop_map(Duration::from_millis)
}

fn arb_params() -> impl Strategy<Value = ParamMap> {
    proptest::collection::btree_map(arb_name(), arb_text(), 0..4)
}

fn arb_kind(names: Vec<String>) -> impl Strategy<Value = TaskKind> {
    let name = proptest::sample::select(names);
    prop_oneof![
        arb_nonblank().prop_map(|script| TaskKind::Shell(ScriptTask { script })),
        arb_nonblank().prop_map(|script| TaskKind::Python(ScriptTask { script })),
        (
            arb_name(),
            arb_nonblank(),
            any::<bool>(),
            proptest::option::of(arb_name())
        )
            .prop_map(
                |(datasource, sql, statement, send_result_to)| TaskKind::Sql(SqlTask {
                    datasource,
                    sql,
                    kind: if statement {
                        SqlKind::Statement
                    } else {
                        SqlKind::Query
                    },
                    send_result_to,
                })
            ),
        (
            arb_text(),
            proptest::sample::select(HttpMethod::ALL.to_vec()),
            proptest::collection::btree_map("[A-Za-z-]{1,8}", arb_text(), 0..3),
            proptest::option::of(arb_text()),
            proptest::option::of(prop_oneof![
                proptest::collection::vec(100u16..600, 1..3).prop_map(ExpectStatus::Codes),
                (100u16..600, 0u16..100).prop_map(|(a, d)| ExpectStatus::Range {
                    from: a,
                    to: (a + d).min(599)
                }),
            ]),
        )
            .prop_map(|(path, method, headers, body, expect_status)| {
                TaskKind::Http(HttpTask {
                    url: format!("https://h/{path}"),
                    method,
                    headers,
                    body,
                    expect_status,
                })
            }),
        (proptest::option::of(arb_name()), arb_name()).prop_map(|(p, w)| {
            TaskKind::SubProcess(SubProcessTask {
                workflow: p.map_or(w.clone(), |p| format!("{p}/{w}")),
            })
        }),
        (
            any::<bool>(),
            proptest::collection::vec(
                (
                    arb_name(),
                    proptest::option::of(arb_name()),
                    proptest::sample::select(DependentWindow::ALL.to_vec())
                ),
                1..3
            )
        )
            .prop_map(|(all, items)| TaskKind::Dependent(DependentTask {
                op: if all {
                    DependentOp::All
                } else {
                    DependentOp::Any
                },
                items: items
                    .into_iter()
                    .map(|(workflow, task, window)| DependentItem {
                        workflow,
                        task,
                        window
                    })
                    .collect(),
            })),
        (
            proptest::collection::vec(name.clone(), 1..3),
            proptest::collection::vec(name.clone(), 0..3)
        )
            .prop_map(|(success, failure)| TaskKind::Conditions(ConditionsTask {
                success,
                failure
            })),
        (
            proptest::collection::vec((arb_nonblank(), name.clone()), 1..3),
            proptest::option::of(name)
        )
            .prop_map(|(cases, default)| TaskKind::Switch(SwitchTask {
                cases: cases
                    .into_iter()
                    .map(|(when, then)| SwitchCase { when, then })
                    .collect(),
                default,
            })),
        (
            arb_nonblank(),
            proptest::option::of(arb_nonblank()),
            proptest::option::of(proptest::sample::select(DeployMode::ALL.to_vec())),
            proptest::collection::vec(arb_text(), 0..3),
            proptest::collection::btree_map("[a-z.]{1,10}", arb_text(), 0..3),
        )
            .prop_map(|(main, master, deploy_mode, args, conf)| {
                TaskKind::Spark(SparkTask {
                    main,
                    master,
                    deploy_mode,
                    args,
                    conf,
                })
            }),
        (
            arb_nonblank(),
            proptest::option::of(arb_nonblank()),
            proptest::collection::vec(arb_text(), 0..3)
        )
            .prop_map(|(jar, main_class, args)| TaskKind::Mr(MrTask {
                jar,
                main_class,
                args
            })),
        Just(TaskKind::Empty),
    ]
}

/// A valid spec: tasks `t0..tn`, each depending only on earlier ones, branches to others.
fn arb_spec() -> impl Strategy<Value = WorkflowSpec> {
    (1usize..6)
        .prop_flat_map(|n| {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let others: Vec<String> = (0..n)
                        .filter(|&j| j != i)
                        .map(|j| format!("t{j}"))
                        .collect();
                    // A lone task cannot branch anywhere: give it a non-branching kind.
                    let kind = if others.is_empty() {
                        arb_kind(vec!["x".into()])
                            .prop_filter("no branches", |k| {
                                !matches!(k, TaskKind::Conditions(_) | TaskKind::Switch(_))
                            })
                            .boxed()
                    } else {
                        arb_kind(others).boxed()
                    };
                    let deps = proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i);
                    (
                        kind,
                        deps,
                        proptest::collection::vec(
                            (
                                proptest::sample::select(Condition::ALL.to_vec()),
                                proptest::option::of(arb_duration()),
                            ),
                            i,
                        ),
                        arb_params(),
                        proptest::option::of(proptest::sample::select(Priority::ALL.to_vec())),
                        proptest::option::of(arb_name()),
                        proptest::option::of(arb_name()),
                        (0u32..=100, proptest::option::of(arb_duration())),
                        proptest::option::of((
                            arb_duration(),
                            proptest::sample::select(TimeoutStrategy::ALL.to_vec()),
                        )),
                        (any::<bool>(), any::<bool>()),
                    )
                        .prop_map(
                            move |(
                                kind,
                                deps,
                                conds,
                                params,
                                priority,
                                worker_group,
                                task_group,
                                (retries, retry_interval),
                                timeout,
                                (run, fail_on_loss),
                            )| TaskSpec {
                                name: format!("t{i}"),
                                kind,
                                depends_on: deps
                                    .into_iter()
                                    .map(|d| DependsOn {
                                        task: format!("t{d}"),
                                        on: conds[d].0,
                                        delay: conds[d].1,
                                    })
                                    .collect(),
                                params,
                                priority,
                                worker_group,
                                task_group,
                                retries,
                                retry_interval,
                                timeout: timeout
                                    .map(|(after, strategy)| TaskTimeout { after, strategy }),
                                run,
                                on_worker_loss: if fail_on_loss {
                                    OnWorkerLoss::Fail
                                } else {
                                    OnWorkerLoss::Retry
                                },
                                line: 0,
                                source: SourceMap::default(),
                            },
                        )
                })
                .collect::<Vec<_>>();
            (
                (arb_name(), arb_name(), arb_text(), arb_params()),
                (
                    proptest::sample::select(FailureStrategy::ALL.to_vec()),
                    proptest::sample::select(Priority::ALL.to_vec()),
                    proptest::sample::select(ExecutionType::ALL.to_vec()),
                    arb_name(),
                    proptest::option::of(arb_duration()),
                    proptest::sample::select(Release::ALL.to_vec()),
                ),
                proptest::option::of((
                    proptest::sample::select(NotifyWhen::ALL.to_vec()),
                    proptest::option::of(arb_name()),
                )),
                proptest::option::of((
                    proptest::sample::select(vec![
                        "* * * * *",
                        "0 0 2 ? * MON-FRI",
                        "0 0 2 L * ? 2030",
                    ]),
                    proptest::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York"]),
                    proptest::option::of(Just("2026-01-01".to_string())),
                    proptest::option::of(Just("2026-12-31T23:59:59".to_string())),
                    any::<bool>(),
                    any::<bool>(),
                )),
                tasks,
            )
        })
        .prop_map(
            |(
                (project, name, description, params),
                (failure_strategy, priority, execution, worker_group, timeout, release),
                notify,
                schedule,
                tasks,
            )| WorkflowSpec {
                project,
                name,
                description,
                params,
                failure_strategy,
                priority,
                execution,
                worker_group,
                timeout,
                notify: notify.map(|(when, group)| NotifySpec {
                    when,
                    group: if when == NotifyWhen::None {
                        group
                    } else {
                        Some(group.unwrap_or_else(|| "oncall".into()))
                    },
                }),
                release,
                schedule: schedule.map(|(cron, tz, start, end, skip, enabled)| ScheduleSpec {
                    cron: cron.into(),
                    timezone: tz.into(),
                    start,
                    end,
                    misfire: if skip {
                        Misfire::Skip
                    } else {
                        Misfire::FireOnce
                    },
                    enabled,
                }),
                tasks,
                source: SourceMap::default(),
            },
        )
}

/// Small edits of a valid document: cut, insert, duplicate and swap.
fn mutated_example() -> impl Strategy<Value = String> {
    let base = format!("{DESIGN_EXAMPLE}---\n{DESIGN_RESOURCES}");
    let len = base.len();
    let edit = (
        0..len,
        0..len,
        prop_oneof![
            Just(String::new()),
            Just(":".to_string()),
            Just("\n".to_string()),
            Just("  ".to_string()),
            Just("- ".to_string()),
            Just("{".to_string()),
            Just("[".to_string()),
            Just("\"".to_string()),
            Just("&a ".to_string()),
            Just("*a".to_string()),
            Just("<<: *a\n".to_string()),
            Just("---\n".to_string()),
            Just("\t".to_string()),
            Just("!!int ".to_string()),
            Just("99999999999999999999999".to_string()),
            arb_text(),
        ],
    );
    proptest::collection::vec(edit, 1..6).prop_map(move |edits| {
        let mut text = base.clone();
        for (a, b, insert) in edits {
            let (mut a, mut b) = (a.min(text.len()), b.min(text.len()));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            while !text.is_char_boundary(a) {
                a -= 1;
            }
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            // Short cuts mostly; sometimes a duplicated span instead.
            if b - a > 40 {
                let span = text[a..b].to_string();
                text.insert_str(b, &span);
            } else {
                text.replace_range(a..b, &insert);
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse_documents("p.yaml", &text);
        let _ = parse_workflow_json("p.json", &text);
    }

    #[test]
    fn parsing_arbitrary_chars_never_panics(text in arb_text()) {
        let _ = parse_documents("p.yaml", &text);
    }

    #[test]
    fn parsing_a_mutated_document_never_panics(text in mutated_example()) {
        if let Ok(docs) = parse_documents("p.yaml", &text) {
            for doc in &docs {
                let _ = unavailable_features("p.yaml", doc);
                if let Document::Workflow(w) = doc {
                    prop_assert_eq!(&workflow(&to_yaml(w)), w);
                }
            }
        }
    }

    #[test]
    fn every_valid_spec_round_trips_through_yaml_and_json(spec in arb_spec()) {
        let yaml = to_yaml(&spec);
        match parse_documents("rt.yaml", &yaml) {
            Ok(docs) => prop_assert_eq!(&docs, &vec![Document::Workflow(spec.clone())], "yaml:\n{}", yaml),
            Err(e) => prop_assert!(false, "{:#?}\nyaml:\n{}", e, yaml),
        }
        let json = serde_json::to_string(&spec).unwrap();
        prop_assert_eq!(&serde_json::from_str::<WorkflowSpec>(&json).unwrap(), &spec);
        match parse_workflow_json("rt.json", &json) {
            Ok(w) => prop_assert_eq!(&w, &spec),
            Err(e) => prop_assert!(false, "{:#?}\njson:\n{}", e, json),
        }
    }
}

#[test]
fn task_group_documents_parse_and_reject_bad_sizes() {
    let docs = parse_documents("g.yaml", "kind: task_group\nname: etl_db\nsize: 2\n").unwrap();
    match &docs[0] {
        Document::TaskGroup(g) => assert_eq!((g.name.as_str(), g.size), ("etl_db", 2)),
        other => panic!("{other:?}"),
    }
    let errors = parse_documents(
        "g.yaml",
        "kind: task_group\nname: etl_db\nsize: 0\nextra: 1\n",
    )
    .unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4], "{errors:?}");
}
