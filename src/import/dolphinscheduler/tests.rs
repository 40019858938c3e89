//! The converter on the real exports in `tests/fixtures/ds-exports/` and on small
//! hand-made ones.

use std::collections::BTreeSet;

use super::*;
use crate::model::{ExecutionType, Priority, Release};
use crate::spec::{TaskTimeout, TimeoutStrategy};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../tests/fixtures/ds-exports/", $name)),
        )
    };
}

const FIXTURES: &[(&str, &str)] = &[
    fixture!("aliyun-dataworks-spec__1.3.9-project_a-5-workflows.json"),
    fixture!("aliyun-dataworks-spec__2.0.5-http-dependent-subprocess-3-workflows.json"),
    fixture!("aliyun-dataworks-spec__3.1-cross-project-dependent-spark.json"),
    fixture!("aliyun-dataworks-spec__3.1-python-spark-retries.json"),
    fixture!("aliyun-dataworks-spec__3.1-spark-ui-export.json"),
    fixture!("aliyun-dataworks-spec__3.1.5-shell-python-sql-subprocess-4-workflows.json"),
    fixture!("aliyun-dataworks-spec__3.2-dependent-sql-python-schedule.json"),
    fixture!("aliyun-dataworks-spec__3.2-multi-sql-globalparams-schedule.json"),
    fixture!("aliyun-dataworks-spec__3.2.0-mr.json"),
    fixture!("aliyun-dataworks-spec__3.2.0-sqoop.json"),
    fixture!("apache-dolphinscheduler__apitest-3.3-workflowDefinition-shell.json"),
    fixture!("apache-dolphinscheduler__cicd-1.3-feature_release.json"),
    fixture!("apache-dolphinscheduler__cicd-1.3-rollback.json"),
    fixture!("gh-issue-dolphinscheduler-3808__1.3.2-shell_dag.pasted.txt"),
];

fn one(name: &str, options: &Options) -> Result<Imported, Vec<Problem>> {
    let (file, text) = FIXTURES.iter().find(|(f, _)| *f == name).unwrap();
    import(&[Input { file, text }], options)
}

fn with_project(p: &str) -> Options {
    Options {
        project: Some(p.into()),
        allow_unsupported: false,
    }
}

fn messages(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.to_string()).collect()
}

fn allowing(p: &str) -> Options {
    Options {
        project: Some(p.into()),
        allow_unsupported: true,
    }
}

fn workflow<'a>(imported: &'a Imported, name: &str) -> &'a WorkflowSpec {
    imported
        .workflows
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no workflow {name}"))
}

fn task<'a>(w: &'a WorkflowSpec, name: &str) -> &'a TaskSpec {
    w.task(name)
        .unwrap_or_else(|| panic!("no task {name} in {}", w.name))
}

fn deps(t: &TaskSpec) -> Vec<&str> {
    t.depends_on.iter().map(|d| d.task.as_str()).collect()
}

/// Every problem names the file, the workflow, the task and the field.
fn failing_tasks(problems: &[Problem]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = problems
        .iter()
        .map(|p| {
            (
                p.task.clone().unwrap_or_default(),
                p.field.clone().unwrap_or_default(),
            )
        })
        .collect();
    out.dedup();
    out
}

#[test]
fn v13_batch_export_fails_exactly_on_its_unsupported_tasks() {
    let file = "aliyun-dataworks-spec__1.3.9-project_a-5-workflows.json";
    let problems = one(file, &with_project("p")).unwrap_err();
    for p in &problems {
        assert_eq!(p.file, file);
        assert!(
            p.workflow.is_some() && p.task.is_some() && p.field.is_some(),
            "{p}"
        );
    }
    let failing = failing_tasks(&problems);
    let expected = [
        ("ai_customer_mongo_spark", "mainJar"),
        ("ai_customer_mongo_spark", "resourceList"),
        ("hive_sql_0", "type"),
        ("hive_sql_0", "udfs"),
        ("jifeng-sql", "datasource"),
        ("mr_0", "mainJar"),
        ("mr_0", "others"),
        ("mr_0", "resourceList"),
        ("spark_sql_0", "type"),
        ("sqoop_form_0", "taskType"),
        ("sqoop_sql_0", "taskType"),
    ];
    for (t, f) in expected {
        assert!(
            failing.contains(&(t.to_string(), f.to_string())),
            "{t} {f} missing from {:#?}",
            messages(&problems)
        );
    }
    let tasks: BTreeSet<&str> = failing.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tasks.len(), 11, "{tasks:?}");

    // With --allow-unsupported the DAGs keep their shape.
    let imported = one(file, &allowing("p")).unwrap();
    assert_eq!(imported.workflows.len(), 5);
    assert_eq!(
        imported.report.count(EntryKind::Unsupported),
        problems.len()
    );
    let hello = workflow(&imported, "hello_flow_0");
    let sqoop = task(hello, "sqoop_form_0");
    let TaskKind::Shell(script) = &sqoop.kind else {
        panic!("{sqoop:?}")
    };
    assert!(script.script.contains("SQOOP") && script.script.ends_with("exit 1\n"));
    assert!(!script.script.contains('$'));
    assert_eq!(deps(sqoop), ["mr_0"]);
    assert_eq!(deps(task(hello, "mr_0")), ["shell_0", "inner_flow_0"]);
    // SUB_PROCESS by 1.3 database id, DEPENDENT by names (one in another project).
    let TaskKind::SubProcess(sub) = &task(hello, "inner_flow_0").kind else {
        panic!()
    };
    assert_eq!(sub.workflow, "inner_flow_0");
    let TaskKind::Dependent(dep) = &task(hello, "depend_task_0").kind else {
        panic!()
    };
    assert_eq!(dep.op, crate::spec::DependentOp::All);
    assert_eq!(dep.items.len(), 3);
    let okcard = workflow(&imported, "dws_business_okcard_import_1665651205812");
    let TaskKind::Dependent(credit) = &task(okcard, "dwb_credit").kind else {
        panic!()
    };
    let crate::spec::DependentEntry::Item(item) = &credit.items[0] else {
        panic!()
    };
    // --project puts everything in p: the dependency is in the same project.
    assert_eq!(item.workflow, "dwb_business_credit");
    assert_eq!(item.window, crate::spec::DependentWindow::Last1Days);
    // Schedule, priority and failure strategy; retries; priorities.
    let schedule = okcard.schedule.as_ref().unwrap();
    assert_eq!(schedule.cron, "0 15 0 * * ? *");
    assert!(!schedule.enabled);
    assert_eq!(okcard.priority, Priority::Highest);
    let user = task(okcard, "dws_okcard_user");
    assert_eq!(user.retries, 4);
    assert_eq!(user.priority, Some(Priority::Medium));
    assert_eq!(task(okcard, "dws_okcard_repay").priority, None);
    let TaskKind::Sql(sql) = &user.kind else {
        panic!()
    };
    assert_eq!(sql.kind, crate::spec::SqlKind::Statement);
    assert!(!sql.pre.is_empty(), "multi-statement sql is split");
    // Conditions with its branches.
    let inner = workflow(&imported, "inner_flow_0");
    let TaskKind::Conditions(c) = &task(inner, "conditions_0").kind else {
        panic!()
    };
    assert_eq!(c.success, ["shell_1"]);
    assert_eq!(c.failure, ["test_py_args"]);
    // Without --project the export's project names are used.
    let own = one(
        file,
        &Options {
            project: None,
            allow_unsupported: true,
        },
    )
    .unwrap();
    let projects: BTreeSet<&str> = own.workflows.iter().map(|w| w.project.as_str()).collect();
    assert_eq!(projects, BTreeSet::from(["ai", "project_a"]));
    let renamed = own
        .workflows
        .iter()
        .find(|w| w.description.contains("继风-flow"))
        .unwrap();
    assert_eq!(renamed.name, "ji_feng_-flow");
    // Without it, a dependency on another project's workflow names that project.
    let okcard = workflow(&own, "dws_business_okcard_import_1665651205812");
    let TaskKind::Dependent(credit) = &task(okcard, "dwb_credit").kind else {
        panic!()
    };
    let crate::spec::DependentEntry::Item(item) = &credit.items[0] else {
        panic!()
    };
    assert_eq!(item.workflow, "ETL_DWB/dwb_business_credit");
}

#[test]
fn v2_http_dependent_and_a_sub_process_chain_import_cleanly() {
    let imported = one(
        "aliyun-dataworks-spec__2.0.5-http-dependent-subprocess-3-workflows.json",
        &with_project("wl"),
    )
    .unwrap();
    let names: Vec<&str> = imported.workflows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["test1", "test2", "test3"]);
    let test1 = workflow(&imported, "test1");
    let TaskKind::Http(http) = &task(test1, "http").kind else {
        panic!()
    };
    assert_eq!(http.url, "http://www.baidu.com");
    assert_eq!(
        http.expect_status,
        Some(crate::spec::ExpectStatus::Codes(vec![200]))
    );
    let python = task(test1, "python");
    assert_eq!(python.retries, 3);
    assert_eq!(python.depends_on[0].delay, Some(Duration::from_secs(120)));
    assert_eq!(
        task(test1, "shell").params.get("id").map(String::as_str),
        Some("3")
    );
    let TaskKind::SubProcess(sub) = &task(workflow(&imported, "test3"), "test3").kind else {
        panic!()
    };
    assert_eq!(sub.workflow, "test2");
    let TaskKind::Dependent(dep) = &task(workflow(&imported, "test2"), "dep").kind else {
        panic!()
    };
    assert_eq!(
        dep.items,
        [crate::spec::DependentEntry::Item(
            crate::spec::DependentItem {
                workflow: "test1".into(),
                task: None,
                window: crate::spec::DependentWindow::Today,
            }
        )]
    );
}

#[test]
fn v3_files_that_import_cleanly() {
    let imported = one(
        "aliyun-dataworks-spec__3.1.5-shell-python-sql-subprocess-4-workflows.json",
        &with_project("t2"),
    )
    .unwrap();
    assert_eq!(imported.workflows.len(), 4);
    let TaskKind::SubProcess(sub) = &task(workflow(&imported, "subprocess1"), "sub_task1").kind
    else {
        panic!()
    };
    assert_eq!(sub.workflow, "shell1");
    assert_eq!(imported.datasources.len(), 1);
    assert_eq!(imported.datasources[0].name, "postgresql_1");
    assert_eq!(imported.report.count(EntryKind::ToDo), 1);

    let imported = one(
        "aliyun-dataworks-spec__3.2-dependent-sql-python-schedule.json",
        &with_project("t"),
    )
    .unwrap();
    let w = workflow(&imported, "yi_lai_jie_dian_ce_shi");
    assert_eq!(w.release, Release::Online);
    let schedule = w.schedule.as_ref().unwrap();
    assert_eq!(schedule.timezone, "Asia/Shanghai");
    assert_eq!(schedule.start.as_deref(), Some("2024-06-28 00:00:00"));
    let TaskKind::Dependent(dep) = &task(w, "yi_lai_jie_dian").kind else {
        panic!()
    };
    // Two AND groups of one item each, referring to tasks of the renamed workflow itself.
    let items: Vec<_> = dep
        .items
        .iter()
        .map(|e| match e {
            crate::spec::DependentEntry::Item(i) => (i.workflow.clone(), i.task.clone(), i.window),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        items,
        [
            (
                "yi_lai_jie_dian_ce_shi".into(),
                Some("shell_jie_dian".into()),
                crate::spec::DependentWindow::Today
            ),
            (
                "yi_lai_jie_dian_ce_shi".into(),
                Some("python_jie_dian".into()),
                crate::spec::DependentWindow::ThisMonth
            ),
        ]
    );
    assert!(w.description.contains("依赖节点测试"));
    assert!(imported.report.count(EntryKind::Rename) >= 5);

    let imported = one(
        "aliyun-dataworks-spec__3.2-multi-sql-globalparams-schedule.json",
        &with_project("t"),
    )
    .unwrap();
    let w = &imported.workflows[0];
    assert_eq!(
        w.params.get("date").map(String::as_str),
        Some("${{biz_date}}")
    );
    let pre = task(w, "qian_zhi_sql_jie_dian");
    assert_eq!(deps(pre), ["qian_zhi_sql_jie_dian_delay"]);
    assert_eq!(pre.depends_on[0].delay, Some(Duration::from_secs(300)));
    let TaskKind::Sql(sql) = &pre.kind else {
        panic!()
    };
    assert_eq!(sql.pre, ["select 'pre-pre'"]);
    assert_eq!(sql.post, ["select 'pre-post-1'", "select 'pre-post-2'"]);
    assert_eq!(sql.datasource, "mysql_1");

    let imported = one(
        "apache-dolphinscheduler__apitest-3.3-workflowDefinition-shell.json",
        &with_project("t"),
    )
    .unwrap();
    assert_eq!(imported.workflows[0].name, "test");
    assert_eq!(imported.workflows[0].release, Release::Offline);
}

#[test]
fn v13_cicd_exports_keep_their_project_and_params() {
    for file in [
        "apache-dolphinscheduler__cicd-1.3-feature_release.json",
        "apache-dolphinscheduler__cicd-1.3-rollback.json",
    ] {
        let imported = one(file, &Options::default()).unwrap();
        let w = &imported.workflows[0];
        assert_eq!(w.project, "test_project");
        assert_eq!(w.params.get("port").map(String::as_str), Some("8098"));
        assert_eq!(w.tasks.len(), 3);
        // Roots first, then in dependency order.
        assert_eq!(w.tasks[0].name, "kill_process_on_port");
        assert!(w.tasks[1].depends_on.len() == 1 && w.tasks[2].depends_on.len() == 1);
        let first = &w.tasks[0];
        assert_eq!(
            first.params.get("port_number").map(String::as_str),
            Some("${port}")
        );
        assert!(w.description.contains("kill process on port"));
    }
}

#[test]
fn files_with_unsupported_parts_name_each_and_allow_turns_them_into_failing_tasks() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "aliyun-dataworks-spec__3.1-cross-project-dependent-spark.json",
            &[
                ("各项目计算结果汇总", "programType"),
                ("星空roi计算依赖", "dependence.definitionCode"),
                ("茄子roi计算依赖", "dependence.definitionCode"),
            ],
        ),
        (
            "aliyun-dataworks-spec__3.1-python-spark-retries.json",
            &[
                ("roi计算", "programType"),
                ("茄子roi全量更新", "programType"),
            ],
        ),
        (
            "aliyun-dataworks-spec__3.1-spark-ui-export.json",
            &[
                ("spark_task1", "mainJar"),
                ("spark_task1", "others"),
                ("spark_task1", "resourceList"),
            ],
        ),
        (
            "aliyun-dataworks-spec__3.2.0-mr.json",
            &[("mr2", "mainJar")],
        ),
        (
            "aliyun-dataworks-spec__3.2.0-sqoop.json",
            &[("sqoop1", "taskType")],
        ),
    ];
    for (file, expected) in cases {
        let problems = one(file, &with_project("p")).unwrap_err();
        let mut got = failing_tasks(&problems);
        got.sort();
        let mut want: Vec<(String, String)> = expected
            .iter()
            .map(|(t, f)| (t.to_string(), f.to_string()))
            .collect();
        want.sort();
        assert_eq!(got, want, "{file}: {:#?}", messages(&problems));
        let imported = one(file, &allowing("p")).unwrap();
        assert_eq!(
            imported.report.count(EntryKind::Unsupported),
            problems.len(),
            "{file}"
        );
        assert!(
            imported
                .report
                .to_markdown()
                .contains("now a shell task that fails")
        );
    }
}

#[test]
fn broken_files_fail_with_file_line_and_column() {
    let problems = one(
        "gh-issue-dolphinscheduler-3808__1.3.2-shell_dag.pasted.txt",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        messages(&problems),
        [
            "gh-issue-dolphinscheduler-3808__1.3.2-shell_dag.pasted.txt:4:36: not valid JSON: expected `,` or `}`"
        ]
    );
    let not_ds = import(
        &[Input {
            file: "x.json",
            text: "[\n  {\"processDefinitionJson\": \"{\\\"tasks\\\": []}\", \"processDefinitionName\": \"a\"},\n  {\"hello\": 1}\n]",
        }],
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(not_ds.len(), 1);
    assert_eq!((not_ds[0].line, not_ds[0].column), (3, 3), "{}", not_ds[0]);
    assert!(not_ds[0].message.contains("not a DolphinScheduler export"));
    for text in ["", "42", "[]", "{\"a\": 1}", "[1]", "\"x\""] {
        let problems = import(
            &[Input {
                file: "y.json",
                text,
            }],
            &Options::default(),
        )
        .unwrap_err();
        assert!(problems[0].line >= 1, "{text:?}: {:?}", problems);
    }
    // 2.x without --project: asks for it.
    let problems = one(
        "apache-dolphinscheduler__apitest-3.3-workflowDefinition-shell.json",
        &Options::default(),
    )
    .unwrap_err();
    assert!(problems[0].message.contains("--project"), "{}", problems[0]);
    // A bad --project name.
    let problems = one(
        "apache-dolphinscheduler__apitest-3.3-workflowDefinition-shell.json",
        &with_project("a b"),
    )
    .unwrap_err();
    assert!(problems[0].file == "--project");
}

#[test]
fn every_fixture_converts_the_same_twice() {
    for (file, text) in FIXTURES {
        let a = import(&[Input { file, text }], &allowing("p"));
        let b = import(&[Input { file, text }], &allowing("p"));
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.yaml(), b.yaml(), "{file}");
                assert_eq!(a.files(), b.files());
                assert_eq!(a.report.to_markdown(), b.report.to_markdown());
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("{file}: different outcomes"),
        }
    }
}

#[test]
fn all_fixtures_together_resolve_references_across_files() {
    let inputs: Vec<Input> = FIXTURES
        .iter()
        .filter(|(f, _)| f.ends_with(".json"))
        .map(|(file, text)| Input { file, text })
        .collect();
    let imported = import(&inputs, &allowing("all")).unwrap();
    let files = imported.files();
    assert!(files.iter().any(|(p, _)| p == "all/datasources.yaml"));
    assert!(files.iter().all(|(p, _)| p.starts_with("all/")));
    // Workflow names stay unique in the one project.
    let names: BTreeSet<&str> = imported.workflows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names.len(), imported.workflows.len());
}

fn v2_export(
    name: &str,
    code: i64,
    tasks: serde_json::Value,
    relations: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "processDefinition": {"code": code, "name": name, "projectCode": 1, "releaseState": "OFFLINE", "globalParams": "[]", "timeout": 0, "executionType": "SERIAL_WAIT"},
        "taskDefinitionList": tasks,
        "processTaskRelationList": relations,
        "schedule": null
    })
}

fn v2_task(code: i64, name: &str, ty: &str, params: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"code": code, "name": name, "taskType": ty, "taskParams": params, "flag": "YES",
        "taskPriority": "MEDIUM", "workerGroup": "default", "environmentCode": -1, "failRetryTimes": 0,
        "failRetryInterval": 1, "timeoutFlag": "CLOSE", "timeout": 0, "delayTime": 0})
}

fn rel(pre: i64, post: i64) -> serde_json::Value {
    serde_json::json!({"preTaskCode": pre, "postTaskCode": post, "conditionType": "NONE"})
}

#[test]
fn references_follow_renamed_targets_across_files() {
    let child = v2_export(
        "子流程 (daily)",
        500,
        serde_json::json!([v2_task(
            501,
            "加载",
            "SHELL",
            serde_json::json!({"rawScript": "echo ${x}", "localParams": [{"prop": "x", "direct": "IN", "type": "VARCHAR", "value": "$[yyyyMMdd-1]"}]})
        )]),
        serde_json::json!([rel(0, 501)]),
    );
    let parent = v2_export(
        "parent",
        600,
        serde_json::json!([
            v2_task(
                601,
                "run child",
                "SUB_PROCESS",
                serde_json::json!({"processDefinitionCode": 500})
            ),
            v2_task(
                602,
                "wait",
                "DEPENDENT",
                serde_json::json!({"dependence": {"relation": "OR", "dependTaskList": [
                {"relation": "AND", "dependItemList": [
                    {"projectCode": 1, "definitionCode": 500, "depTaskCode": 501, "cycle": "hour", "dateValue": "last3Hours"},
                    {"projectCode": 1, "definitionCode": 500, "depTaskCode": 0, "cycle": "week", "dateValue": "lastWeek"}]}]}})
            ),
        ]),
        serde_json::json!([rel(0, 602), rel(602, 601)]),
    );
    let child_text = serde_json::to_string(&[child]).unwrap();
    let parent_text = serde_json::to_string_pretty(&[parent]).unwrap();
    let imported = import(
        &[
            Input {
                file: "parent.json",
                text: &parent_text,
            },
            Input {
                file: "child.json",
                text: &child_text,
            },
        ],
        &with_project("p"),
    )
    .unwrap();
    let parent = workflow(&imported, "parent");
    assert_eq!(parent.execution, ExecutionType::SerialWait);
    let TaskKind::SubProcess(sub) = &task(parent, "run_child").kind else {
        panic!()
    };
    assert_eq!(sub.workflow, "zi_liu_cheng_daily");
    let TaskKind::Dependent(dep) = &task(parent, "wait").kind else {
        panic!()
    };
    assert_eq!(dep.op, crate::spec::DependentOp::Any);
    let crate::spec::DependentEntry::Group { op, items } = &dep.items[0] else {
        panic!()
    };
    assert_eq!(*op, crate::spec::DependentOp::All);
    assert_eq!(items[0].task.as_deref(), Some("jia_zai"));
    assert_eq!(items[0].window, crate::spec::DependentWindow::Last3Hours);
    assert_eq!(items[1].window, crate::spec::DependentWindow::LastWeek);
    let child = workflow(&imported, "zi_liu_cheng_daily");
    assert_eq!(task(child, "jia_zai").params["x"], "$[yyyyMMdd-1]");

    // Alone, the parent cannot say what it runs.
    let problems = import(
        &[Input {
            file: "parent.json",
            text: &parent_text,
        }],
        &with_project("p"),
    )
    .unwrap_err();
    let fields: Vec<_> = problems.iter().map(|p| p.field.clone().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "processDefinitionCode",
            "dependence.definitionCode",
            "dependence.definitionCode"
        ]
    );
}

#[test]
fn switch_conditions_http_procedure_and_common_fields() {
    let tasks = serde_json::json!([
        v2_task(
            1,
            "measure",
            "SHELL",
            serde_json::json!({"rawScript": "echo '${setValue(rows=5)}'", "localParams": [{"prop": "rows", "direct": "OUT", "type": "VARCHAR", "value": ""}]})
        ),
        v2_task(
            2,
            "route",
            "SWITCH",
            serde_json::json!({"switchResult": {"dependTaskList": [{"condition": "${rows} > 3", "nextNode": 3}], "nextNode": 4}})
        ),
        v2_task(
            3,
            "big",
            "HTTP",
            serde_json::json!({"url": "https://example.org/x", "httpMethod": "POST", "httpCheckCondition": "STATUS_CODE_CUSTOM", "condition": "201",
            "httpParams": [{"prop": "a", "httpParametersType": "PARAMETER", "value": "1 2"}, {"prop": "X-T", "httpParametersType": "HEADERS", "value": "${rows}"}, {"prop": "k", "httpParametersType": "BODY", "value": "v"}],
            "connectTimeout": 1000, "socketTimeout": 2000})
        ),
        v2_task(
            4,
            "small",
            "PROCEDURE",
            serde_json::json!({"type": "POSTGRESQL", "datasource": 7, "method": "{call etl.refresh(?,?)}",
            "localParams": [{"prop": "day", "direct": "IN", "type": "VARCHAR", "value": "${rows}"}, {"prop": "n", "direct": "OUT", "type": "INTEGER", "value": ""}]})
        ),
        v2_task(
            5,
            "check",
            "CONDITIONS",
            serde_json::json!({"dependence": {"relation": "AND", "dependTaskList": [{"relation": "AND", "dependItemList": [{"depTaskCode": 3, "status": "FAILURE"}]}]},
            "conditionResult": {"successNode": [6], "failedNode": [7]}})
        ),
        v2_task(
            6,
            "on_fail",
            "SHELL",
            serde_json::json!({"rawScript": "echo failed"})
        ),
        v2_task(
            7,
            "on_ok",
            "SHELL",
            serde_json::json!({"rawScript": "echo ok"})
        ),
    ]);
    let mut export = v2_export(
        "flow",
        100,
        tasks,
        serde_json::json!([
            rel(0, 1),
            rel(1, 2),
            rel(2, 3),
            rel(2, 4),
            rel(3, 5),
            rel(5, 6),
            rel(5, 7)
        ]),
    );
    let list = export["taskDefinitionList"].as_array_mut().unwrap();
    list[3]["flag"] = "NO".into();
    list[2]["failRetryTimes"] = 2.into();
    list[2]["failRetryInterval"] = 3.into();
    list[2]["timeoutFlag"] = "OPEN".into();
    list[2]["timeout"] = 30.into();
    list[2]["timeoutNotifyStrategy"] = "WARNFAILED".into();
    list[2]["taskPriority"] = "HIGH".into();
    list[2]["workerGroup"] = "gpu".into();
    list[2]["taskGroupId"] = 4.into();
    let text = serde_json::to_string(&[export]).unwrap();
    let imported = import(
        &[Input {
            file: "f.json",
            text: &text,
        }],
        &with_project("p"),
    )
    .unwrap();
    let w = &imported.workflows[0];
    let TaskKind::Switch(switch) = &task(w, "route").kind else {
        panic!()
    };
    assert_eq!(switch.cases[0].when, "${rows} > 3");
    assert_eq!(switch.cases[0].then, "big");
    assert_eq!(switch.default.as_deref(), Some("small"));
    let big = task(w, "big");
    let TaskKind::Http(http) = &big.kind else {
        panic!()
    };
    assert_eq!(http.url, "https://example.org/x?a=1%202");
    assert_eq!(http.method, crate::spec::HttpMethod::Post);
    assert_eq!(http.headers["X-T"], "${rows}");
    assert_eq!(http.body.as_deref(), Some(r#"{"k":"v"}"#));
    assert_eq!(
        http.expect_status,
        Some(crate::spec::ExpectStatus::Codes(vec![201]))
    );
    assert_eq!(http.request_timeout, Some(Duration::from_millis(3000)));
    assert_eq!(big.retries, 2);
    assert_eq!(big.retry_interval, Some(Duration::from_secs(180)));
    assert_eq!(
        big.timeout,
        Some(TaskTimeout {
            after: Duration::from_secs(1800),
            strategy: TimeoutStrategy::WarnAndFail
        })
    );
    assert_eq!(big.priority, Some(Priority::High));
    assert_eq!(big.worker_group.as_deref(), Some("gpu"));
    assert_eq!(big.task_group.as_deref(), Some("ds_task_group_4"));
    let small = task(w, "small");
    assert!(!small.run);
    let TaskKind::Procedure(proc_) = &small.kind else {
        panic!()
    };
    assert_eq!(proc_.call, "etl.refresh");
    assert_eq!(proc_.args, ["${rows}"]);
    assert_eq!(proc_.out, ["n"]);
    assert_eq!(proc_.datasource, "postgresql_7");
    // A condition on the one predecessor's FAILURE: branches swapped.
    let TaskKind::Conditions(c) = &task(w, "check").kind else {
        panic!()
    };
    assert_eq!(c.success, ["on_ok"]);
    assert_eq!(c.failure, ["on_fail"]);
    let report = imported.report.to_markdown();
    assert!(report.contains("ds\\_task\\_group\\_4"), "{report}");
    assert!(report.contains("OUT param rows"), "{report}");
}

#[test]
fn a_switch_condition_pgdag_cannot_evaluate_is_unsupported() {
    let tasks = serde_json::json!([
        v2_task(
            2,
            "route",
            "SWITCH",
            serde_json::json!({"switchResult": {"dependTaskList": [{"condition": "${x}.startsWith('a')", "nextNode": 3}]}})
        ),
        v2_task(3, "t", "SHELL", serde_json::json!({"rawScript": "true"})),
        v2_task(4, "q", "SQOOP", serde_json::json!({})),
    ]);
    let export = v2_export(
        "flow",
        100,
        tasks,
        serde_json::json!([rel(0, 2), rel(2, 3), rel(0, 4)]),
    );
    let text = serde_json::to_string(&[export]).unwrap();
    let problems = import(
        &[Input {
            file: "f.json",
            text: &text,
        }],
        &with_project("p"),
    )
    .unwrap_err();
    let fields: Vec<_> = failing_tasks(&problems);
    assert_eq!(
        fields,
        [
            ("q".to_string(), "taskType".to_string()),
            ("route".to_string(), "switchResult.condition".to_string())
        ]
    );
}
