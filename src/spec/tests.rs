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
            bind: Vec::new(),
            pre: Vec::new(),
            post: Vec::new(),
            out: Vec::new(),
            out_rows: None,
            max_rows: DEFAULT_MAX_ROWS,
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
fn notify_send_result_to_and_alert_groups_are_available() {
    let w = workflow(DESIGN_EXAMPLE);
    assert!(unavailable_features("t.yaml", &Document::Workflow(w)).is_empty());
    let w = workflow(&format!(
        "project: p\nname: w\nnotify: {{when: always, group: oncall}}\ntasks:\n{}",
        "  - {name: c, type: sql, datasource: d, sql: select 1, send_result_to: oncall}\n",
    ));
    assert_eq!(
        w.notify.as_ref().and_then(|n| n.group.as_deref()),
        Some("oncall")
    );
    assert!(unavailable_features("t.yaml", &Document::Workflow(w)).is_empty());
    let docs = parse_documents("r.yaml", DESIGN_RESOURCES).unwrap();
    assert!(
        docs.iter()
            .all(|d| unavailable_features("r.yaml", d).is_empty())
    );
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
            allow_scheduler_database: false,
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
        "  - {name: pr, type: procedure, datasource: dw, call: etl.x}\n",
        "  - {name: h, type: http, url: 'https://x/y', method: post, headers: {X-Token: t}, body: '{}', expect_status: 200-299}\n",
        "  - {name: h2, type: http, url: '${base}/y', expect_status: [200, 204]}\n",
        "  - {name: h3, type: http, url: 'http://x', expect_status: 201}\n",
        "  - {name: sub, type: sub_process, workflow: other/child}\n",
        "  - {name: sub2, type: sub_process, workflow: child}\n",
        "  - {name: dep, type: dependent, any: [{workflow: w2, window: today}, {workflow: p/w3, task: t, window: last_7_days}]}\n",
        "  - {name: cond, type: conditions, success: [b1], failure: [b2]}\n",
        "  - {name: sw, type: switch, cases: [{when: '${x} > 3', then: b1}], default: b2}\n",
        "  - {name: sp, type: spark, main: app.jar, master: yarn, deploy_mode: cluster, args: [a, 1], conf: {spark.x: 2}}\n",
        "  - {name: mr, type: mr, jar: wc.jar, main_class: WordCount, args: [in, out]}\n",
        "  - {name: e, type: empty}\n",
        "  - {name: b1, type: empty, depends_on: [cond, sw]}\n",
        "  - {name: b2, type: empty, depends_on: [cond, sw]}\n",
    )));
    let types: Vec<TaskType> = w.tasks.iter().map(TaskSpec::task_type).collect();
    use TaskType::*;
    assert_eq!(
        types,
        [
            Shell, Python, Sql, Procedure, Http, Http, Http, SubProcess, SubProcess, Dependent,
            Conditions, Switch, Spark, Mr, Empty, Empty, Empty
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
    let DependentEntry::Item(item) = &dep.items[1] else {
        panic!()
    };
    assert_eq!(item.window, DependentWindow::Last7Days);
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
        "t.yaml:3:1: unknown key `colour` in workflow (expected one of: kind, project, name, description, params, failure_strategy, priority, execution, worker_group, timeout, max_active_runs, sla, notify, retention, release, schedule, tenant, env, triggers, tasks)"
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
            "  - {name: a, type: empty, depends_on: [c]}\n  - {name: c, type: conditions, success: [a], failure: [zz]}\n",
        ),
        5,
        "conditions branch names unknown task `zz`",
    );
    assert_error(
        &with_tasks(
            "  - {name: a, type: empty, depends_on: [s]}\n  - {name: s, type: switch, cases: [{when: '1 > 0', then: a}], default: nope}\n",
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

// ---- keys of sql, procedure, http, dependent, spark and mr tasks ----

/// The one error of `text`, which must be at `line:column` and contain `message`.
#[track_caller]
fn assert_error_at(text: &str, line: usize, column: usize, message: &str) {
    let errors = errors(text);
    assert!(
        errors.len() == 1
            && (errors[0].line, errors[0].column) == (line, column)
            && errors[0].message.contains(message),
        "expected one error at {line}:{column} containing {message:?}, got {errors:#?}"
    );
}

/// The workflow of `text`, after checking that it comes back equal from `to_yaml` and from
/// its stored JSON form (and that the JSON is deterministic).
#[track_caller]
fn round_trip(text: &str) -> WorkflowSpec {
    let spec = workflow(text);
    let yaml = to_yaml(&spec);
    assert_eq!(workflow(&yaml), spec, "exported:\n{yaml}");
    let json = serde_json::to_string(&spec).unwrap();
    let stored: WorkflowSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(stored, spec, "stored:\n{json}");
    assert_eq!(
        serde_json::to_string(&stored).unwrap(),
        json,
        "deterministic"
    );
    assert_eq!(parse_workflow_json("api", &json).unwrap(), spec);
    spec
}

/// A workflow whose one task (line 4) is `head`, followed by `keys` from line `4 + lines of
/// head`.
fn one_task(head: &str, keys: &str) -> String {
    with_tasks(&format!("  - name: t\n{head}{keys}"))
}

const SQL_HEAD: &str = "    type: sql\n    datasource: dw\n    sql: select 1\n";

#[test]
fn sql_keys_parse_and_round_trip() {
    let w = round_trip(&one_task(
        SQL_HEAD,
        concat!(
            "    bind: ['${dt}', 1.10, true, '']\n",
            "    pre: [set search_path = etl, 'set work_mem = ''64MB''']\n",
            "    post: ['analyze t']\n",
            "    out: [id, name]\n",
            "    out_rows: rows\n",
            "    max_rows: 500\n",
        ),
    ));
    let TaskKind::Sql(sql) = &w.tasks[0].kind else {
        panic!()
    };
    assert_eq!(sql.bind, ["${dt}", "1.10", "true", ""]);
    assert_eq!(sql.pre, ["set search_path = etl", "set work_mem = '64MB'"]);
    assert_eq!(sql.post, ["analyze t"]);
    assert_eq!(sql.out, ["id", "name"]);
    assert_eq!(sql.out_rows.as_deref(), Some("rows"));
    assert_eq!(sql.max_rows, 500);
    assert_eq!(
        serde_json::to_value(&w.tasks[0]).unwrap()["max_rows"],
        serde_json::json!(500)
    );

    // Defaults: nothing new is stored, so older definitions keep their hash.
    let plain = round_trip(&one_task(SQL_HEAD, ""));
    let TaskKind::Sql(sql) = &plain.tasks[0].kind else {
        panic!()
    };
    assert_eq!(sql.max_rows, DEFAULT_MAX_ROWS);
    assert!(sql.bind.is_empty() && sql.out.is_empty() && sql.out_rows.is_none());
    assert_eq!(
        serde_json::to_value(&plain.tasks[0]).unwrap(),
        serde_json::json!({"name": "t", "type": "sql", "datasource": "dw", "sql": "select 1"})
    );
    let explicit = workflow(&one_task(SQL_HEAD, "    max_rows: 100\n"));
    assert_eq!(explicit, plain);
    assert_eq!(round_trip(&one_task(SQL_HEAD, "    max_rows: 10000\n")), {
        let mut w = plain.clone();
        let TaskKind::Sql(sql) = &mut w.tasks[0].kind else {
            panic!()
        };
        sql.max_rows = MAX_MAX_ROWS;
        w
    });
}

#[test]
fn sql_keys_reject_bad_values_at_their_position() {
    let at = |keys: &str, column: usize, message: &str| {
        assert_error_at(&one_task(SQL_HEAD, keys), 8, column, message)
    };
    at(
        "    max_rows: 0\n",
        15,
        "`max_rows` must be between 1 and 10000, not 0",
    );
    at(
        "    max_rows: 10001\n",
        15,
        "`max_rows` must be between 1 and 10000, not 10001",
    );
    at(
        "    max_rows: many\n",
        15,
        "`max_rows` must be a whole number",
    );
    at("    bind: x\n", 11, "`bind` must be a list, not a string");
    at(
        "    bind: [a, [1]]\n",
        15,
        "`bind item` must be a string, not a list",
    );
    at("    pre: [ok, ' ']\n", 15, "`pre item` must not be empty");
    at(
        "    post: {a: b}\n",
        11,
        "`post` must be a list, not a mapping",
    );
    at(
        "    out: [id, 'a b']\n",
        15,
        "invalid param name \"a b\" in `out`: contains ' '",
    );
    at("    out: [id, id]\n", 15, "`id` is listed twice in `out`");
    at(
        "    out_rows: a/b\n",
        15,
        "invalid param name \"a/b\" in `out_rows`",
    );
    assert_error_at(
        &one_task(SQL_HEAD, "    out: [id]\n    out_rows: id\n"),
        9,
        15,
        "`out_rows` \"id\" is also a column in `out`",
    );
    at(
        "    binds: [1]\n",
        5,
        "unknown key `binds` for task type sql",
    );
}

const PROCEDURE_HEAD: &str = "    type: procedure\n    datasource: dw\n";

#[test]
fn procedure_keys_parse_and_round_trip() {
    let w = round_trip(&one_task(
        PROCEDURE_HEAD,
        "    call: etl.refresh_sales\n    args: ['${dt}', 42, 1.50]\n    out: [changed, total]\n",
    ));
    assert_eq!(
        w.tasks[0].kind,
        TaskKind::Procedure(ProcedureTask {
            datasource: "dw".into(),
            call: "etl.refresh_sales".into(),
            args: vec!["${dt}".into(), "42".into(), "1.50".into()],
            out: vec!["changed".into(), "total".into()],
        })
    );
    for call in ["refresh", "_x.Y_1", "Etl2._"] {
        round_trip(&one_task(PROCEDURE_HEAD, &format!("    call: {call}\n")));
    }
}

#[test]
fn procedure_keys_reject_bad_values_at_their_position() {
    let at = |keys: &str, line: usize, column: usize, message: &str| {
        assert_error_at(&one_task(PROCEDURE_HEAD, keys), line, column, message)
    };
    for call in [
        "'call x()'",
        "'etl.refresh()'",
        "a.b.c",
        "1abc",
        "'etl.'",
        "'.x'",
        "'x y'",
        "'e-t.x'",
    ] {
        at(
            &format!("    call: {call}\n"),
            7,
            11,
            "call must be a procedure name such as `etl.refresh` (arguments go in `args`)",
        );
    }
    at(
        "    call: x\n    args: [[1]]\n",
        8,
        12,
        "`args item` must be a string, not a list",
    );
    at(
        "    call: x\n    out: [a, a]\n",
        8,
        14,
        "`a` is listed twice in `out`",
    );
    at(
        "    call: x\n    out: ['$x']\n",
        8,
        11,
        "invalid param name \"$x\" in `out`",
    );
}

const HTTP_HEAD: &str = "    type: http\n    url: https://api.example.com/jobs\n";

#[test]
fn http_keys_parse_and_round_trip() {
    let w = round_trip(&one_task(
        HTTP_HEAD,
        concat!(
            "    expect_body_contains: '\"status\": \"ok\"'\n",
            "    request_timeout: 1m30s\n",
            "    out: {job_id: $.data.id, first: \"$['items'][0]\", all: $}\n",
        ),
    ));
    let TaskKind::Http(http) = &w.tasks[0].kind else {
        panic!()
    };
    assert_eq!(
        http.expect_body_contains.as_deref(),
        Some("\"status\": \"ok\"")
    );
    assert_eq!(http.request_timeout, Some(Duration::from_secs(90)));
    assert_eq!(
        http.out,
        BTreeMap::from([
            ("all".to_string(), "$".to_string()),
            ("first".into(), "$['items'][0]".into()),
            ("job_id".into(), "$.data.id".into()),
        ])
    );
}

#[test]
fn http_keys_reject_bad_values_at_their_position() {
    let at = |keys: &str, column: usize, message: &str| {
        assert_error_at(&one_task(HTTP_HEAD, keys), 7, column, message)
    };
    at(
        "    expect_body_contains: ''\n",
        27,
        "`expect_body_contains` must not be empty",
    );
    at(
        "    expect_body_contains: [a]\n",
        27,
        "`expect_body_contains` must be a string",
    );
    at(
        "    request_timeout: soon\n",
        22,
        "invalid `request_timeout`",
    );
    at(
        "    request_timeout: 0s\n",
        22,
        "`request_timeout` must be longer than 0",
    );
    at(
        "    out: {id: data.id}\n",
        15,
        "invalid `out.id` \"data.id\": must be a JSON path starting with `$`",
    );
    // An empty value is "" (as in every text map), which is no path either.
    at("    out: {id: }\n", 13, "invalid `out.id` \"\"");
    at(
        "    out: {'a b': $.x}\n",
        11,
        "invalid key \"a b\" in `out`",
    );
    at(
        "    out: [$.x]\n",
        10,
        "`out` must be a mapping, not a list",
    );
}

const DEPENDENT_HEAD: &str = "    type: dependent\n";

#[test]
fn dependent_groups_and_keys_parse_and_round_trip() {
    let w = round_trip(&one_task(
        DEPENDENT_HEAD,
        concat!(
            "    all:\n",
            "      - {workflow: etl, window: today}\n",
            "      - any:\n",
            "          - {workflow: p2/a, task: load, window: last_2_days}\n",
            "          - {workflow: b, window: last_month_end}\n",
            "      - {all: [{workflow: c, window: last_24_hours}]}\n",
            "    check_interval: 1m\n",
            "    failure: wait\n",
            "    wait_limit: 6h\n",
        ),
    ));
    let item = |workflow: &str, task: Option<&str>, window| DependentItem {
        workflow: workflow.into(),
        task: task.map(Into::into),
        window,
    };
    assert_eq!(
        w.tasks[0].kind,
        TaskKind::Dependent(DependentTask {
            op: DependentOp::All,
            items: vec![
                DependentEntry::Item(item("etl", None, DependentWindow::Today)),
                DependentEntry::Group {
                    op: DependentOp::Any,
                    items: vec![
                        item("p2/a", Some("load"), DependentWindow::Last2Days),
                        item("b", None, DependentWindow::LastMonthEnd),
                    ],
                },
                DependentEntry::Group {
                    op: DependentOp::All,
                    items: vec![item("c", None, DependentWindow::Last24Hours)],
                },
            ],
            check_interval: Some(Duration::from_secs(60)),
            failure: DependentFailure::Wait,
            wait_limit: Some(Duration::from_secs(6 * 3600)),
        })
    );
    // Stored as written: items as maps, groups as `{all|any: [...]}`, keys beside `all`.
    assert_eq!(
        serde_json::to_value(&w.tasks[0]).unwrap(),
        serde_json::json!({
            "name": "t",
            "type": "dependent",
            "all": [
                {"workflow": "etl", "window": "today"},
                {"any": [
                    {"workflow": "p2/a", "task": "load", "window": "last_2_days"},
                    {"workflow": "b", "window": "last_month_end"}
                ]},
                {"all": [{"workflow": "c", "window": "last_24_hours"}]}
            ],
            "check_interval": "1m",
            "failure": "wait",
            "wait_limit": "6h"
        })
    );

    // Defaults are left out.
    let plain = round_trip(&one_task(
        DEPENDENT_HEAD,
        "    any: [{workflow: a, window: today}]\n    failure: fail\n",
    ));
    let TaskKind::Dependent(d) = &plain.tasks[0].kind else {
        panic!()
    };
    assert_eq!(
        (d.check_interval, d.failure, d.wait_limit),
        (None, DependentFailure::Fail, None)
    );
    assert_eq!(
        serde_json::to_value(&plain.tasks[0]).unwrap(),
        serde_json::json!({
            "name": "t", "type": "dependent", "any": [{"workflow": "a", "window": "today"}]
        })
    );
}

#[test]
fn dependent_windows_have_these_spellings() {
    let spellings: Vec<&str> = DependentWindow::ALL.iter().map(|w| w.as_str()).collect();
    assert_eq!(
        spellings,
        [
            "today",
            "last_1_days",
            "last_2_days",
            "last_3_days",
            "last_4_days",
            "last_5_days",
            "last_6_days",
            "last_7_days",
            "this_week",
            "last_week",
            "last_monday",
            "last_tuesday",
            "last_wednesday",
            "last_thursday",
            "last_friday",
            "last_saturday",
            "last_sunday",
            "this_month",
            "last_month",
            "last_month_begin",
            "last_month_end",
            "current_hour",
            "last_1_hour",
            "last_2_hours",
            "last_3_hours",
            "last_24_hours",
        ]
    );
    for window in DependentWindow::ALL {
        let w = round_trip(&one_task(
            DEPENDENT_HEAD,
            &format!("    all: [{{workflow: a, window: {window}}}]\n"),
        ));
        let TaskKind::Dependent(d) = &w.tasks[0].kind else {
            panic!()
        };
        assert_eq!(
            d.items,
            [DependentEntry::Item(DependentItem {
                workflow: "a".into(),
                task: None,
                window: *window
            })]
        );
    }
    assert_error_at(
        &one_task(
            DEPENDENT_HEAD,
            "    all: [{workflow: a, window: last_2_day}]\n",
        ),
        6,
        33,
        "\"last_2_day\" is not a valid dependent window",
    );
}

#[test]
fn dependent_keys_reject_bad_values_at_their_position() {
    let at = |keys: &str, line: usize, column: usize, message: &str| {
        assert_error_at(&one_task(DEPENDENT_HEAD, keys), line, column, message)
    };
    let items = "    all: [{workflow: a, window: today}]\n";
    at(
        &format!("{items}    check_interval: 500ms\n"),
        7,
        21,
        "`check_interval` must be at least 1s",
    );
    at(
        &format!("{items}    check_interval: often\n"),
        7,
        21,
        "invalid `check_interval`",
    );
    at(
        &format!("{items}    failure: retry\n"),
        7,
        14,
        "\"retry\" is not a valid dependent failure policy",
    );
    at(
        &format!("{items}    wait_limit: forever\n"),
        7,
        17,
        "invalid `wait_limit`",
    );
    // Keys beside a broken `all`/`any` are still known.
    at(
        "    check_interval: 1m\n    failure: wait\n",
        4,
        5,
        "a dependent task needs `all: [...]` or `any: [...]`",
    );
    // Groups: exactly two levels.
    at(
        concat!(
            "    any:\n",
            "      - all:\n",
            "          - {workflow: a, window: today}\n",
            "          - {any: [{workflow: b, window: today}]}\n",
        ),
        9,
        13,
        "groups do not nest",
    );
    at(
        "    any: [{all: [{workflow: a, window: today}], any: [{workflow: b, window: today}]}]\n",
        6,
        54,
        "a dependent group takes `all` or `any`, not both",
    );
    at(
        "    any: [{all: [{workflow: a, window: today}], workflow: c}]\n",
        6,
        49,
        "unknown key `workflow` in dependent group (expected one of: all, any)",
    );
    at(
        "    any: [{all: []}]\n",
        6,
        17,
        "`all` must list at least one item",
    );
    at(
        "    any: [{any: x}]\n",
        6,
        17,
        "`any` must be a list, not a string",
    );
    at(
        "    any: [{all: [{workflow: a}]}]\n",
        6,
        18,
        "missing required key `window` in dependent item",
    );
}

#[test]
fn stored_dependent_json_is_read_back_strictly() {
    let read = |json: serde_json::Value| serde_json::from_value::<DependentTask>(json);
    let task = read(serde_json::json!({
        "any": [{"all": [{"workflow": "a", "window": "today"}]}, {"workflow": "b", "window": "last_sunday"}],
        "check_interval": "10s",
        "wait_limit": "1d"
    }))
    .unwrap();
    assert_eq!(task.op, DependentOp::Any);
    assert_eq!(task.failure, DependentFailure::Fail);
    assert!(matches!(
        task.items[0],
        DependentEntry::Group {
            op: DependentOp::All,
            ..
        }
    ));
    for bad in [
        serde_json::json!({"all": [{"all": [], "workflow": "a", "window": "today"}]}),
        serde_json::json!({"all": [{"all": [], "any": []}]}),
        serde_json::json!({"all": [{"workflow": "a"}]}),
        serde_json::json!({"all": [{"all": [{"any": []}]}]}),
        serde_json::json!({"all": [], "any": []}),
    ] {
        assert!(read(bad.clone()).is_err(), "{bad}");
    }
}

const SPARK_HEAD: &str = "    type: spark\n    main: app.jar\n";

#[test]
fn spark_keys_parse_and_round_trip() {
    let w = round_trip(&one_task(
        SPARK_HEAD,
        concat!(
            "    main_class: org.example.Daily\n",
            "    app_name: daily ${dt}\n",
            "    driver_cores: 2\n",
            "    driver_memory: 512m\n",
            "    num_executors: 100000\n",
            "    executor_cores: 1024\n",
            "    executor_memory: 2G\n",
            "    queue: etl\n",
        ),
    ));
    let TaskKind::Spark(spark) = &w.tasks[0].kind else {
        panic!()
    };
    assert_eq!(spark.main_class.as_deref(), Some("org.example.Daily"));
    assert_eq!(spark.app_name.as_deref(), Some("daily ${dt}"));
    assert_eq!(
        (
            spark.driver_cores,
            spark.num_executors,
            spark.executor_cores
        ),
        (Some(2), Some(100_000), Some(1024))
    );
    assert_eq!(spark.driver_memory.as_deref(), Some("512m"));
    assert_eq!(spark.executor_memory.as_deref(), Some("2G"));
    assert_eq!(spark.queue.as_deref(), Some("etl"));
    for memory in ["1", "1024", "4k", "4K", "1t", "007g"] {
        round_trip(&one_task(
            SPARK_HEAD,
            &format!("    driver_memory: {memory}\n"),
        ));
    }
}

#[test]
fn spark_keys_reject_bad_values_at_their_position() {
    let at = |keys: &str, column: usize, message: &str| {
        assert_error_at(&one_task(SPARK_HEAD, keys), 7, column, message)
    };
    at(
        "    driver_cores: 0\n",
        19,
        "`driver_cores` must be between 1 and 1024, not 0",
    );
    at(
        "    executor_cores: 1025\n",
        21,
        "`executor_cores` must be between 1 and 1024, not 1025",
    );
    at(
        "    num_executors: 100001\n",
        20,
        "`num_executors` must be between 1 and 100000, not 100001",
    );
    at(
        "    num_executors: two\n",
        20,
        "`num_executors` must be a whole number",
    );
    for bad in ["2gb", "1.5g", "0m", "g", "-1g", "'2 g'", "''"] {
        at(
            &format!("    driver_memory: {bad}\n"),
            20,
            "`driver_memory` must be a memory size such as 512m or 2g",
        );
    }
    at(
        "    executor_memory: [2g]\n",
        22,
        "`executor_memory` must be a string, not a list",
    );
    at("    queue: ' '\n", 12, "`queue` must not be empty");
    at("    app_name: ''\n", 15, "`app_name` must not be empty");
    at("    main_class: ''\n", 17, "`main_class` must not be empty");
}

const MR_HEAD: &str = "    type: mr\n    jar: wc.jar\n";

#[test]
fn mr_keys_parse_and_round_trip() {
    let w = round_trip(&one_task(
        MR_HEAD,
        "    app_name: word count\n    queue: etl\n    conf: {mapreduce.map.memory.mb: 2048, x.empty: }\n",
    ));
    let TaskKind::Mr(mr) = &w.tasks[0].kind else {
        panic!()
    };
    assert_eq!(mr.app_name.as_deref(), Some("word count"));
    assert_eq!(mr.queue.as_deref(), Some("etl"));
    assert_eq!(
        mr.conf,
        BTreeMap::from([
            ("mapreduce.map.memory.mb".to_string(), "2048".to_string()),
            ("x.empty".into(), "".into()),
        ])
    );
}

#[test]
fn mr_keys_reject_bad_values_at_their_position() {
    let at = |keys: &str, column: usize, message: &str| {
        assert_error_at(&one_task(MR_HEAD, keys), 7, column, message)
    };
    at(
        "    conf: [a]\n",
        11,
        "`conf` must be a mapping, not a list",
    );
    at(
        "    conf: {'': x}\n",
        12,
        "invalid key \"\" in `conf`: must not be empty",
    );
    at(
        "    conf: {a: [1]}\n",
        15,
        "`conf.a` must be a string, not a list",
    );
    at(
        "    queue: [etl]\n",
        12,
        "`queue` must be a string, not a list",
    );
    at("    app_name: ''\n", 15, "`app_name` must not be empty");
}

#[test]
fn every_new_key_is_a_type_key() {
    let has = |ty: TaskType, keys: &[&str]| {
        for key in keys {
            assert!(type_keys(ty).contains(key), "{ty} lacks {key}");
        }
    };
    has(
        TaskType::Sql,
        &["bind", "pre", "post", "out", "out_rows", "max_rows"],
    );
    has(TaskType::Procedure, &["call", "args", "out"]);
    has(
        TaskType::Http,
        &["expect_body_contains", "request_timeout", "out"],
    );
    has(
        TaskType::Dependent,
        &["all", "any", "check_interval", "failure", "wait_limit"],
    );
    has(
        TaskType::Spark,
        &[
            "main_class",
            "app_name",
            "driver_cores",
            "driver_memory",
            "num_executors",
            "executor_cores",
            "executor_memory",
            "queue",
        ],
    );
    has(TaskType::Mr, &["app_name", "queue", "conf"]);
    // A key of another type is still unknown here.
    assert_error_at(
        &one_task(MR_HEAD, "    driver_cores: 2\n"),
        7,
        5,
        "unknown key `driver_cores` for task type mr",
    );
}

// ---- branches wait for their branching task ----

#[test]
fn branch_targets_must_depend_on_the_branching_task() {
    assert_error_at(
        &with_tasks(concat!(
            "  - {name: s, type: switch, cases: [{when: '1 > 0', then: a}], default: b}\n",
            "  - {name: a, type: empty, depends_on: [{task: s, on: failure}]}\n",
            "  - {name: b, type: empty}\n",
        )),
        4,
        73,
        "switch branch `b` must depend on `s` (add `s` to its depends_on)",
    );
    assert_error_at(
        &with_tasks(concat!(
            "  - {name: a, type: empty}\n",
            "  - {name: c, type: conditions, success: [a]}\n",
        )),
        5,
        43,
        "conditions branch `a` must depend on `c` (add `c` to its depends_on)",
    );
    // Named in two cases: said once, at the first.
    assert_error_at(
        &with_tasks(concat!(
            "  - name: s\n",
            "    type: switch\n",
            "    cases:\n",
            "      - {when: '${x} > 1', then: a}\n",
            "      - {when: '${x} > 2', then: a}\n",
            "  - {name: a, type: empty}\n",
        )),
        7,
        34,
        "switch branch `a` must depend on `s`",
    );
    // Any relation counts; a task named in two cases is fine.
    round_trip(&with_tasks(concat!(
        "  - {name: s, type: switch, cases: [{when: '1 > 0', then: a}, {when: '2 > 1', then: a}], default: b}\n",
        "  - {name: a, type: empty, depends_on: [{task: s, on: always, delay: 1s}, c]}\n",
        "  - {name: b, type: empty, depends_on: [s]}\n",
        "  - {name: c, type: conditions, success: [a], failure: [d]}\n",
        "  - {name: d, type: empty, depends_on: [c, {task: a, on: failure}]}\n",
    )));
}

#[test]
fn a_conditions_task_cannot_send_one_task_both_ways() {
    assert_error_at(
        &with_tasks(concat!(
            "  - {name: c, type: conditions, success: [a, b], failure: [b]}\n",
            "  - {name: a, type: empty, depends_on: [c]}\n",
            "  - {name: b, type: empty, depends_on: [c]}\n",
        )),
        4,
        60,
        "task `b` is in both `success` and `failure`",
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
        retry_backoff: Default::default(),
        retry_max_interval: None,
        timeout: None,
        run: true,
        on_worker_loss: OnWorkerLoss::Retry,
        env: Default::default(),
        foreach: None,
        max_parallel: None,
        line: 0,
        source: SourceMap::default(),
    };
    let mut first = task(
        "extract",
        TaskKind::Shell(ScriptTask {
            script: "set -e\n  echo \"${region}\" 'x' # not a comment\n\techo done\n".into(),
        }),
    );
    first.env = [("HTTP_PROXY".to_string(), "http://p:3128".to_string())].into();
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
    first.retry_backoff = crate::model::RetryBackoff::Exponential;
    first.retry_max_interval = Some(Duration::from_secs(600));
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
                bind: vec!["1.10".into(), "".into(), "it's".into()],
                pre: vec!["set search_path = etl".into()],
                post: vec!["analyze sales;\nanalyze items;\n".into()],
                out: vec!["total".into(), "n".into()],
                out_rows: Some("rows".into()),
                max_rows: 10_000,
            }),
        ),
        task(
            "proc",
            TaskKind::Procedure(ProcedureTask {
                datasource: "dw".into(),
                call: "etl.refresh".into(),
                args: vec!["${dt}".into(), "007".into()],
                out: vec!["changed".into()],
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
                expect_body_contains: Some("\"ok\": true".into()),
                request_timeout: Some(Duration::from_millis(2500)),
                out: [
                    ("id".to_string(), "$.data.id".to_string()),
                    ("first".into(), "$['items'][0]".into()),
                ]
                .into(),
                follow_redirects: false,
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
                expect_body_contains: None,
                request_timeout: None,
                out: BTreeMap::new(),
                follow_redirects: false,
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
                    DependentEntry::Item(DependentItem {
                        workflow: "w2".into(),
                        task: Some("t".into()),
                        window: DependentWindow::LastMonth,
                    }),
                    DependentEntry::Group {
                        op: DependentOp::Any,
                        items: vec![
                            DependentItem {
                                workflow: "p2/w3".into(),
                                task: None,
                                window: DependentWindow::CurrentHour,
                            },
                            DependentItem {
                                workflow: "w4".into(),
                                task: None,
                                window: DependentWindow::LastMonthEnd,
                            },
                        ],
                    },
                ],
                check_interval: Some(Duration::from_secs(30)),
                failure: DependentFailure::Wait,
                wait_limit: Some(Duration::from_secs(6 * 3600)),
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
                main_class: Some("org.example.App".into()),
                master: Some("yarn".into()),
                deploy_mode: Some(DeployMode::Cluster),
                app_name: Some("daily ${dt}".into()),
                driver_cores: Some(2),
                driver_memory: Some("512m".into()),
                num_executors: Some(100_000),
                executor_cores: Some(1024),
                executor_memory: Some("2G".into()),
                queue: Some("etl".into()),
                args: vec!["--x".into(), "1".into(), "".into(), "true".into()],
                conf: [("spark.executor.memory".to_string(), "2g".to_string())].into(),
            }),
        ),
        task(
            "mr",
            TaskKind::Mr(MrTask {
                jar: "wc.jar".into(),
                main_class: Some("org.WordCount".into()),
                app_name: Some("wc".into()),
                queue: Some("default".into()),
                args: vec!["in".into()],
                conf: [("mapreduce.map.memory.mb".to_string(), "2048".to_string())].into(),
            }),
        ),
        task("end", TaskKind::Empty),
    ];
    tasks[1].depends_on = vec![
        DependsOn::on_success("extract"),
        DependsOn::on_success("cond"),
    ];
    // Branch targets wait for their branching task.
    tasks[2].depends_on = vec![DependsOn::on_success("cond")];
    tasks[3].depends_on = vec![DependsOn {
        task: "cond".into(),
        on: Condition::Always,
        delay: None,
    }];
    tasks[4].depends_on = vec![DependsOn::on_success("sw")];
    tasks[5].depends_on = vec![DependsOn::on_success("sw")];
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
        max_active_runs: None,
        sla: Some(SlaSpec {
            finish_within: Duration::from_secs(3600),
        }),
        notify: Some(NotifySpec {
            when: NotifyWhen::Always,
            group: Some("oncall".into()),
        }),
        retention: Some(Duration::from_secs(90 * 86_400)),
        release: Release::Offline,
        schedule: Some(ScheduleSpec {
            cron: "0 0 2 ? * MON-FRI".into(),
            timezone: "Europe/Berlin".into(),
            start: Some("2026-01-01".into()),
            end: Some("2027-01-01T00:00:00Z".into()),
            misfire: Misfire::Skip,
            enabled: false,
        }),
        tenant: Some("analysts".into()),
        env: [("REGION".to_string(), "eu".to_string())].into(),
        triggers: Vec::new(),
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

fn arb_op(all: bool) -> DependentOp {
    if all {
        DependentOp::All
    } else {
        DependentOp::Any
    }
}

fn arb_dependent_item() -> impl Strategy<Value = DependentItem> {
    (
        proptest::option::of(arb_name()),
        arb_name(),
        proptest::option::of(arb_name()),
        proptest::sample::select(DependentWindow::ALL.to_vec()),
    )
        .prop_map(|(project, workflow, task, window)| DependentItem {
            workflow: project.map_or(workflow.clone(), |p| format!("{p}/{workflow}")),
            task,
            window,
        })
}

fn arb_memory() -> impl Strategy<Value = String> {
    "[1-9][0-9]{0,4}[kmgtKMGT]?"
}

/// Makes every branch target depend on its branching task (targets come later, so no
/// cycle can appear).
fn wire_branches(tasks: &mut [TaskSpec]) {
    for i in 0..tasks.len() {
        let targets: Vec<String> = match &tasks[i].kind {
            TaskKind::Conditions(c) => c.success.iter().chain(&c.failure).cloned().collect(),
            TaskKind::Switch(s) => s
                .cases
                .iter()
                .map(|c| c.then.clone())
                .chain(s.default.clone())
                .collect(),
            _ => continue,
        };
        let brancher = tasks[i].name.clone();
        for target in targets {
            if let Some(t) = tasks.iter_mut().find(|t| t.name == target)
                && !t.depends_on.iter().any(|d| d.task == brancher)
            {
                t.depends_on.push(DependsOn::on_success(brancher.clone()));
            }
        }
    }
}

fn arb_kind(names: Vec<String>) -> impl Strategy<Value = TaskKind> {
    let name = proptest::sample::select(names);
    prop_oneof![
        arb_nonblank().prop_map(|script| TaskKind::Shell(ScriptTask { script })),
        arb_nonblank().prop_map(|script| TaskKind::Python(ScriptTask { script })),
        (
            (
                arb_name(),
                arb_nonblank(),
                any::<bool>(),
                proptest::option::of(arb_name())
            ),
            (
                proptest::collection::vec(arb_text(), 0..3),
                proptest::collection::vec(arb_nonblank(), 0..2),
                proptest::collection::vec(arb_nonblank(), 0..2),
                proptest::collection::btree_set(arb_name(), 0..3),
                proptest::option::of(arb_name()),
                prop_oneof![Just(DEFAULT_MAX_ROWS), 1..=MAX_MAX_ROWS],
            )
        )
            .prop_map(
                |(
                    (datasource, sql, statement, send_result_to),
                    (bind, pre, post, out, out_rows, max_rows),
                )| TaskKind::Sql(SqlTask {
                    datasource,
                    sql,
                    kind: if statement {
                        SqlKind::Statement
                    } else {
                        SqlKind::Query
                    },
                    send_result_to,
                    bind,
                    pre,
                    post,
                    out_rows: out_rows.filter(|r| !out.contains(r)),
                    out: out.into_iter().collect(),
                    max_rows,
                })
            ),
        (
            arb_name(),
            "[A-Za-z_][A-Za-z0-9_]{0,8}(\\.[A-Za-z_][A-Za-z0-9_]{0,8})?",
            proptest::collection::vec(arb_text(), 0..3),
            proptest::collection::btree_set(arb_name(), 0..3),
        )
            .prop_map(|(datasource, call, args, out)| {
                TaskKind::Procedure(ProcedureTask {
                    datasource,
                    call,
                    args,
                    out: out.into_iter().collect(),
                })
            }),
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
            proptest::option::of(arb_nonblank()),
            proptest::option::of((1u64..10_000_000).prop_map(Duration::from_millis)),
            proptest::collection::btree_map(arb_name(), "\\$[a-z0-9.\\[\\]' *]{0,10}", 0..3),
        )
            .prop_map(
                |(
                    path,
                    method,
                    headers,
                    body,
                    expect_status,
                    expect_body_contains,
                    request_timeout,
                    out,
                )| {
                    TaskKind::Http(HttpTask {
                        url: format!("https://h/{path}"),
                        method,
                        headers,
                        body,
                        expect_status,
                        expect_body_contains,
                        request_timeout,
                        out,
                        follow_redirects: false,
                    })
                }
            ),
        (proptest::option::of(arb_name()), arb_name()).prop_map(|(p, w)| {
            TaskKind::SubProcess(SubProcessTask {
                workflow: p.map_or(w.clone(), |p| format!("{p}/{w}")),
            })
        }),
        (
            any::<bool>(),
            proptest::collection::vec(
                prop_oneof![
                    2 => arb_dependent_item().prop_map(DependentEntry::Item),
                    1 => (
                        any::<bool>(),
                        proptest::collection::vec(arb_dependent_item(), 1..3)
                    )
                        .prop_map(|(all, items)| DependentEntry::Group {
                            op: arb_op(all),
                            items
                        }),
                ],
                1..3
            ),
            proptest::option::of((1000u64..10_000_000).prop_map(Duration::from_millis)),
            proptest::sample::select(DependentFailure::ALL.to_vec()),
            proptest::option::of(arb_duration()),
        )
            .prop_map(|(all, items, check_interval, failure, wait_limit)| {
                TaskKind::Dependent(DependentTask {
                    op: arb_op(all),
                    items,
                    check_interval,
                    failure,
                    wait_limit,
                })
            }),
        (
            proptest::collection::vec(name.clone(), 1..3),
            proptest::collection::vec(name.clone(), 0..3)
        )
            .prop_map(|(success, failure)| TaskKind::Conditions(ConditionsTask {
                failure: failure
                    .into_iter()
                    .filter(|t| !success.contains(t))
                    .collect(),
                success,
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
            (
                arb_nonblank(),
                proptest::option::of(arb_nonblank()),
                proptest::option::of(arb_nonblank()),
                proptest::option::of(proptest::sample::select(DeployMode::ALL.to_vec())),
                proptest::option::of(arb_nonblank()),
                proptest::option::of(arb_nonblank()),
            ),
            (
                proptest::option::of(1..=MAX_CORES),
                proptest::option::of(arb_memory()),
                proptest::option::of(1..=MAX_EXECUTORS),
                proptest::option::of(1..=MAX_CORES),
                proptest::option::of(arb_memory()),
            ),
            proptest::collection::vec(arb_text(), 0..3),
            proptest::collection::btree_map("[a-z.]{1,10}", arb_text(), 0..3),
        )
            .prop_map(
                |(
                    (main, main_class, master, deploy_mode, app_name, queue),
                    (driver_cores, driver_memory, num_executors, executor_cores, executor_memory),
                    args,
                    conf,
                )| {
                    TaskKind::Spark(SparkTask {
                        main,
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
            ),
        (
            arb_nonblank(),
            proptest::option::of(arb_nonblank()),
            proptest::option::of(arb_nonblank()),
            proptest::option::of(arb_nonblank()),
            proptest::collection::vec(arb_text(), 0..3),
            proptest::collection::btree_map("[a-z.]{1,10}", arb_text(), 0..3),
        )
            .prop_map(|(jar, main_class, app_name, queue, args, conf)| {
                TaskKind::Mr(MrTask {
                    jar,
                    main_class,
                    app_name,
                    queue,
                    args,
                    conf,
                })
            }),
        Just(TaskKind::Empty),
    ]
}

/// A valid spec: tasks `t0..tn`, each depending only on earlier ones, branches to later ones
/// (which then depend on the branching task).
fn arb_spec() -> impl Strategy<Value = WorkflowSpec> {
    (1usize..6)
        .prop_flat_map(|n| {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let others: Vec<String> = (i + 1..n).map(|j| format!("t{j}")).collect();
                    // The last task cannot branch anywhere: give it a non-branching kind.
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
                                retry_backoff: Default::default(),
                                retry_max_interval: None,
                                timeout: timeout
                                    .map(|(after, strategy)| TaskTimeout { after, strategy }),
                                run,
                                on_worker_loss: if fail_on_loss {
                                    OnWorkerLoss::Fail
                                } else {
                                    OnWorkerLoss::Retry
                                },
                                env: Default::default(),
                                foreach: None,
                                max_parallel: None,
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
                mut tasks,
            )| WorkflowSpec {
                tasks: {
                    wire_branches(&mut tasks);
                    tasks
                },
                project,
                name,
                description,
                params,
                failure_strategy,
                priority,
                execution,
                worker_group,
                timeout,
                max_active_runs: None,
                sla: None,
                notify: notify.map(|(when, group)| NotifySpec {
                    when,
                    group: if when == NotifyWhen::None {
                        group
                    } else {
                        Some(group.unwrap_or_else(|| "oncall".into()))
                    },
                }),
                retention: None,
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
                tenant: None,
                env: Default::default(),
                triggers: Vec::new(),
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

// ---- env and tenants ----

#[test]
fn env_on_workflows_and_tasks_is_checked_and_bounded() {
    let w = workflow(
        "project: p\nname: w\nenv: { REGION: eu, EMPTY: }\ntasks:\n  - name: a\n    type: shell\n    script: env\n    env: { HTTP_PROXY: \"http://p:3128\", _X1: \"${dt}\" }\n",
    );
    assert_eq!(w.env.get("REGION").map(String::as_str), Some("eu"));
    assert_eq!(w.env.get("EMPTY").map(String::as_str), Some(""));
    assert_eq!(w.tasks[0].env.len(), 2);
    assert_error(
        "project: p\nname: w\ntasks:\n  - name: a\n    type: shell\n    script: env\n    env: { PGDAG_SECRET_KEY: x }\n",
        7,
        "PGDAG_ variables are set by pgdag",
    );
    assert_error(
        "project: p\nname: w\nenv: { 1BAD: x }\ntasks: [{name: a, type: empty}]\n",
        3,
        "invalid key \"1BAD\" in `env`",
    );
    assert_error(
        "project: p\nname: w\nenv: { pgdag_x: x }\ntasks: [{name: a, type: empty}]\n",
        3,
        "PGDAG_ variables are set by pgdag",
    );
    let many: String = (0..=MAX_ENV_ENTRIES)
        .map(|i| format!("V{i}: x, "))
        .collect();
    assert_error(
        &format!("project: p\nname: w\nenv: {{ {many} }}\ntasks: [{{name: a, type: empty}}]\n"),
        3,
        "at most 100",
    );
    let long = "y".repeat(MAX_ENV_VALUE + 1);
    assert_error(
        &format!("project: p\nname: w\nenv: {{ V: {long} }}\ntasks: [{{name: a, type: empty}}]\n"),
        3,
        "longer than",
    );
}

#[test]
fn tenant_documents_and_a_workflows_tenant_parse() {
    let docs = parse_documents(
        "t.yaml",
        "kind: tenant\nname: analysts\nos_user: ana_1\nprojects: [p, q]\n---\nproject: p\nname: w\ntenant: analysts\ntasks: [{name: a, type: empty}]\n",
    )
    .unwrap();
    match &docs[0] {
        Document::Tenant(t) => {
            assert_eq!((t.name.as_str(), t.os_user.as_str()), ("analysts", "ana_1"));
            assert_eq!(t.projects, ["p", "q"]);
        }
        other => panic!("{other:?}"),
    }
    match &docs[1] {
        Document::Workflow(w) => assert_eq!(w.tenant.as_deref(), Some("analysts")),
        other => panic!("{other:?}"),
    }
    assert_error(
        "kind: tenant\nname: t\nos_user: \"Root; rm\"\n",
        3,
        "is not an OS user name",
    );
    assert_error("kind: tenant\nname: t\n", 1, "os_user");
    assert_error(
        "kind: tenant\nname: t\nos_user: u\nprojects: [p, p]\n",
        4,
        "listed twice",
    );
    assert_error(
        "kind: tenant\nname: t\nos_user: u\nshell: x\n",
        4,
        "unknown key",
    );
}

#[test]
fn retention_is_a_duration_of_at_least_an_hour() {
    let w = workflow("project: p\nname: w\nretention: 30d\ntasks: [{name: a, type: empty}]\n");
    assert_eq!(w.retention, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(minimal_spec().retention, None);
    let short = errors("project: p\nname: w\nretention: 10m\ntasks: [{name: a, type: empty}]\n");
    assert_eq!(
        short[0].to_string(),
        "t.yaml:3:12: `retention` must be at least 1h, not 10m"
    );
    let bad = errors("project: p\nname: w\nretention: forever\ntasks: [{name: a, type: empty}]\n");
    assert!(
        bad[0].to_string().contains("invalid `retention`"),
        "{}",
        bad[0]
    );
}

#[test]
fn variables_and_secret_documents_parse_and_their_mistakes_are_placed() {
    let docs = parse_documents(
        "v.yaml",
        "kind: variables\nproject: p\nvalues: { bucket: s3://b, n: 3 }\n---\nkind: secret\nproject: p\nname: k\nvalue: s3cr3t\n---\nkind: secret\nproject: p\nname: e\nvalue_env: VENDOR_TOKEN\n",
    )
    .unwrap();
    match &docs[0] {
        Document::Variables(v) => {
            assert_eq!(v.values["bucket"], "s3://b");
            assert_eq!(v.values["n"], "3");
        }
        other => panic!("{other:?}"),
    }
    match &docs[1] {
        Document::Secret(s) => {
            assert_eq!(s.value, SecretSource::Value(SecretText("s3cr3t".into())));
            // Debug never prints a value.
            assert!(!format!("{s:?}").contains("s3cr3t"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&docs[2], Document::Secret(s) if s.value == SecretSource::Env("VENDOR_TOKEN".into()))
    );
    assert_error(
        "kind: secret\nproject: p\nname: k\nvalue: a\nvalue_env: B\n",
        4,
        "not both",
    );
    assert_error(
        "kind: secret\nproject: p\nname: k\n",
        1,
        "needs `value` or `value_env`",
    );
    assert_error(
        "kind: variables\nproject: p\nvalues:\n  'bad name': x\n",
        4,
        "invalid key",
    );
    let long = "x".repeat(MAX_VALUE_BYTES + 1);
    assert_error(
        &format!("kind: variables\nproject: p\nvalues:\n  a: {long}\n"),
        4,
        "longer than",
    );
}

// ---- max_active_runs, sla, retry_backoff (issue 18) ----

#[test]
fn max_active_runs_sla_and_backoff_parse() {
    let w = workflow(concat!(
        "project: p\nname: w\nmax_active_runs: 3\nsla: {finish_within: 2h}\ntasks:\n",
        "  - {name: a, type: empty, retry_interval: 10s, retry_backoff: exponential, retry_max_interval: 5m}\n",
    ));
    assert_eq!(w.max_active_runs, Some(3));
    assert_eq!(w.active_limit(), Some(3));
    assert_eq!(w.sla.unwrap().finish_within, Duration::from_secs(7200));
    let a = &w.tasks[0];
    assert_eq!(a.retry_backoff, crate::model::RetryBackoff::Exponential);
    assert_eq!(a.retry_max_interval, Some(Duration::from_secs(300)));
    assert_eq!(minimal_spec().active_limit(), None);
}

#[test]
fn max_active_runs_sla_and_backoff_errors_name_the_line() {
    assert_error(
        "project: p\nname: w\nmax_active_runs: 0\ntasks: [{name: a, type: empty}]\n",
        3,
        "`max_active_runs` must be between 1 and 10000",
    );
    assert_error(
        "project: p\nname: w\nmax_active_runs: 100000\ntasks: [{name: a, type: empty}]\n",
        3,
        "between 1 and 10000",
    );
    assert_error(
        "project: p\nname: w\nexecution: serial_wait\nmax_active_runs: 2\ntasks: [{name: a, type: empty}]\n",
        4,
        "needs `execution: parallel`",
    );
    assert_error(
        "project: p\nname: w\nsla: {finish_within: soon}\ntasks: [{name: a, type: empty}]\n",
        3,
        "invalid `sla.finish_within`",
    );
    let missing =
        errors("project: p\nname: w\nsla: {within: 1h}\ntasks: [{name: a, type: empty}]\n");
    assert!(
        missing
            .iter()
            .any(|e| e.line == 3 && e.message.contains("missing required key `finish_within`")),
        "{missing:#?}"
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    retry_backoff: linear\n"),
        6,
        "is not a valid retry_backoff",
    );
    assert_error(
        &with_tasks("  - name: a\n    type: empty\n    retry_max_interval: 1h\n"),
        6,
        "needs `retry_backoff: exponential`",
    );
    assert_error(
        &with_tasks(
            "  - name: a\n    type: empty\n    retry_interval: 1h\n    retry_backoff: exponential\n    retry_max_interval: 1m\n",
        ),
        8,
        "shorter than `retry_interval`",
    );
}

// ---- mapped tasks ----

#[test]
fn foreach_and_max_parallel_make_a_mapped_task() {
    let w = workflow(&with_tasks(
        "  - {name: a, type: shell, script: 'echo ${item}', foreach: '${files}', max_parallel: 3}\n  - {name: b, type: sql, datasource: d, sql: 'select 1', foreach: '[1, 2]'}\n",
    ));
    assert_eq!(w.tasks[0].foreach.as_deref(), Some("${files}"));
    assert_eq!(w.tasks[0].max_parallel, Some(3));
    assert_eq!(w.tasks[1].foreach.as_deref(), Some("[1, 2]"));
    assert_eq!(w.tasks[1].max_parallel, None);
    // Both keys round-trip through an export.
    let again = workflow(&to_yaml(&w));
    assert_eq!(again, w);
}

#[test]
fn foreach_is_refused_where_a_worker_does_not_run_the_task() {
    for ty in ["empty", "sub_process", "dependent", "conditions", "switch"] {
        let errors = errors(&with_tasks(&format!(
            "  - name: a\n    type: {ty}\n    foreach: '[1]'\n"
        )));
        assert!(
            errors.iter().any(|e| e.line == 6
                && e.message
                    == format!("`foreach` is not allowed on `type: {ty}`: only tasks a worker runs can be mapped")),
            "{ty}: {errors:#?}"
        );
    }
}

#[test]
fn max_parallel_needs_foreach_and_a_sane_value() {
    assert_error(
        &with_tasks("  - {name: a, type: shell, script: x, max_parallel: 2}\n"),
        4,
        "`max_parallel` needs `foreach`",
    );
    assert_error(
        &with_tasks("  - {name: a, type: shell, script: x, foreach: '[1]', max_parallel: 0}\n"),
        4,
        "`max_parallel` must be between 1 and 10000, not 0",
    );
    assert_error(
        &with_tasks("  - {name: a, type: shell, script: x, foreach: ' '}\n"),
        4,
        "`foreach` must not be empty",
    );
    assert_error(
        &with_tasks("  - {name: a, type: shell, script: x, foreach: [1, 2]}\n"),
        4,
        "`foreach` must be",
    );
}

/// `triggers:` of a workflow.
mod triggers {
    use crate::spec::*;

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
