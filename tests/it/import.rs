//! `pgdag import dolphinscheduler` on the real exports in `tests/fixtures/ds-exports/`
//! (one test per file), through the real binary: apply, re-import unchanged, the
//! round trip through `pgdag export`, all or nothing; and a converted shell + python
//! workflow that runs in pgdag in the order and with the parameter values it had.

use std::collections::BTreeSet;

use crate::harness::*;

const DIR: &str = "tests/fixtures/ds-exports";

fn output(mut command: std::process::Command) -> (i32, String, String) {
    let out = command.output().expect("run pgdag");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn import(db: &TestDb, file: &str, project: Option<&str>, extra: &[&str]) -> (i32, String, String) {
    let mut command = pgdag(db);
    command
        .args(["import", "dolphinscheduler"])
        .arg(format!("{DIR}/{file}"));
    if let Some(p) = project {
        command.args(["--project", p]);
    }
    command.args(extra);
    output(command)
}

async fn definitions(db: &TestDb) -> i64 {
    let client = db.store().client().await.unwrap();
    client
        .query_one("select count(*) from pgdag.workflow_definition", &[])
        .await
        .unwrap()
        .get(0)
}

/// Applies, re-imports (nothing changes), writes `--out` and applies that (nothing
/// changes), and applies `pgdag export` of every project back (nothing changes).
async fn imports_and_round_trips(file: &str, project: Option<&str>, extra: &[&str]) -> String {
    let db = TestDb::new().await;
    let mut args = vec!["--apply"];
    args.extend(extra);
    let (code, stdout, stderr) = import(&db, file, project, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(": created (version 1)"), "{stdout}");
    let workflows: BTreeSet<String> = stdout
        .lines()
        .filter(|l| l.contains(": created (version"))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();

    let (code, again, stderr) = import(&db, file, project, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !again.contains("created") && !again.contains("updated"),
        "{again}"
    );
    assert_eq!(
        again.matches("unchanged (version 1)").count(),
        workflows.len()
    );

    let dir = temp_dir();
    let out = dir.path().join("out");
    let mut args = vec!["--out", out.to_str().unwrap()];
    args.extend(extra);
    let (code, _, stderr) = import(&db, file, project, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(out.join("IMPORT.md").exists());
    let mut apply = pgdag(&db);
    apply.args(["apply", "-f"]).arg(&out);
    let (code, applied, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        applied.matches("unchanged (version 1)").count(),
        workflows.len(),
        "{applied}"
    );

    let projects: BTreeSet<&str> = workflows
        .iter()
        .map(|w| w.split('/').next().unwrap())
        .collect();
    let exported = dir.path().join("exported");
    std::fs::create_dir_all(&exported).unwrap();
    for p in projects {
        let mut export = pgdag(&db);
        export.args(["export", "--project", p]);
        let (code, yaml, stderr) = output(export);
        assert_eq!(code, 0, "{stderr}");
        std::fs::write(exported.join(format!("{p}.yaml")), yaml).unwrap();
    }
    let mut apply = pgdag(&db);
    apply.args(["apply", "-f"]).arg(&exported);
    let (code, applied, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        applied.matches("unchanged (version 1)").count(),
        workflows.len(),
        "{applied}"
    );
    stdout
}

/// Fails (exit 2, nothing written) with a line per problem naming each task, then imports
/// with `--allow-unsupported` and round-trips.
async fn fails_on(file: &str, project: Option<&str>, tasks: &[&str]) {
    let db = TestDb::new().await;
    let (code, stdout, stderr) = import(&db, file, project, &["--apply"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    for task in tasks {
        assert!(
            stderr.contains(&format!("task {task:?}")),
            "{task} not in {stderr}"
        );
    }
    let named: BTreeSet<&str> = stderr
        .lines()
        .filter_map(|l| l.split("task \"").nth(1))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert_eq!(named, tasks.iter().copied().collect(), "{stderr}");
    for line in stderr.lines().filter(|l| l.contains("task \"")) {
        assert!(
            line.starts_with(&format!("error: {DIR}/{file}:"))
                || line.starts_with(&format!("{DIR}/{file}:")),
            "{line}"
        );
        assert!(line.contains("workflow \""), "{line}");
    }
    assert_eq!(definitions(&db).await, 0, "a failed import writes nothing");
    drop(db);
    let stdout = imports_and_round_trips(file, project, &["--allow-unsupported"]).await;
    assert!(!stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_1_3_9_project_a_5_workflows() {
    fails_on(
        "aliyun-dataworks-spec__1.3.9-project_a-5-workflows.json",
        None,
        &[
            "ai_customer_mongo_spark",
            "ai_customer_redis_spark",
            "ai_merchant_mongo_spark",
            "ai_merchant_redis_spark",
            "ai_order_mongo_spark",
            "hive_sql_0",
            "jifeng-sql",
            "mr_0",
            "spark_sql_0",
            "sqoop_form_0",
            "sqoop_sql_0",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_2_0_5_http_dependent_subprocess() {
    let out = imports_and_round_trips(
        "aliyun-dataworks-spec__2.0.5-http-dependent-subprocess-3-workflows.json",
        Some("wl_test3"),
        &[],
    )
    .await;
    assert!(out.contains("wl_test3/test3: created"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_1_cross_project_dependent_spark() {
    fails_on(
        "aliyun-dataworks-spec__3.1-cross-project-dependent-spark.json",
        Some("p"),
        &["各项目计算结果汇总", "星空roi计算依赖", "茄子roi计算依赖"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_1_python_spark_retries() {
    fails_on(
        "aliyun-dataworks-spec__3.1-python-spark-retries.json",
        Some("p"),
        &["roi计算", "茄子roi全量更新"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_1_spark_ui_export() {
    fails_on(
        "aliyun-dataworks-spec__3.1-spark-ui-export.json",
        Some("p"),
        &["spark_task1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_1_5_shell_python_sql_subprocess() {
    let out = imports_and_round_trips(
        "aliyun-dataworks-spec__3.1.5-shell-python-sql-subprocess-4-workflows.json",
        Some("test2"),
        &[],
    )
    .await;
    assert!(
        out.contains("datasource test2/postgresql_1: applied"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_2_dependent_sql_python_schedule() {
    imports_and_round_trips(
        "aliyun-dataworks-spec__3.2-dependent-sql-python-schedule.json",
        Some("p"),
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_2_multi_sql_globalparams_schedule() {
    imports_and_round_trips(
        "aliyun-dataworks-spec__3.2-multi-sql-globalparams-schedule.json",
        Some("p"),
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_2_0_mr() {
    fails_on("aliyun-dataworks-spec__3.2.0-mr.json", Some("p"), &["mr2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_2_0_sqoop() {
    fails_on(
        "aliyun-dataworks-spec__3.2.0-sqoop.json",
        Some("p"),
        &["sqoop1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_3_3_workflow_definition_shell() {
    let file = "apache-dolphinscheduler__apitest-3.3-workflowDefinition-shell.json";
    let db = TestDb::new().await;
    let (code, _, stderr) = import(&db, file, None, &["--apply"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--project"), "{stderr}");
    drop(db);
    imports_and_round_trips(file, Some("p"), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_1_3_cicd_feature_release() {
    let out = imports_and_round_trips(
        "apache-dolphinscheduler__cicd-1.3-feature_release.json",
        None,
        &[],
    )
    .await;
    assert!(
        out.contains("test_project/feature_release: created"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_1_3_cicd_rollback() {
    let out =
        imports_and_round_trips("apache-dolphinscheduler__cicd-1.3-rollback.json", None, &[]).await;
    assert!(out.contains("test_project/rollback: created"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_1_3_2_pasted_invalid_json() {
    let db = TestDb::new().await;
    let file = "gh-issue-dolphinscheduler-3808__1.3.2-shell_dag.pasted.txt";
    for extra in [&["--apply"][..], &["--allow-unsupported"][..]] {
        let (code, stdout, stderr) = import(&db, file, None, extra);
        assert_eq!(code, 2);
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!("{DIR}/{file}:4:36: not valid JSON")),
            "{stderr}"
        );
    }
    assert_eq!(definitions(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_files_or_nothing() {
    // A clean file given with one that fails: nothing of either is written.
    let db = TestDb::new().await;
    let mut command = pgdag(&db);
    command.args([
        "import",
        "dolphinscheduler",
        &format!("{DIR}/apache-dolphinscheduler__cicd-1.3-rollback.json"),
        &format!("{DIR}/aliyun-dataworks-spec__3.2.0-sqoop.json"),
        "--project",
        "p",
        "--apply",
    ]);
    let (code, _, stderr) = output(command);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sqoop1"), "{stderr}");
    assert_eq!(definitions(&db).await, 0);
}

/// A DolphinScheduler 3.2 export written as its UI writes it: global params, local params
/// that use them, an OUT param set by `${setValue(...)}`, a time expression.
const RUN_EXPORT: &str = r#"[{"processDefinition":{"id":1,"code":900,"name":"参数 流程","version":1,"releaseState":"ONLINE","projectCode":77,"description":"","globalParams":"[{\"prop\":\"region\",\"direct\":\"IN\",\"type\":\"VARCHAR\",\"value\":\"eu\"},{\"prop\":\"day\",\"direct\":\"IN\",\"type\":\"VARCHAR\",\"value\":\"$[yyyyMMdd]\"}]","timeout":0,"executionType":"PARALLEL"},
"processTaskRelationList":[{"preTaskCode":0,"postTaskCode":901,"conditionType":"NONE"},{"preTaskCode":901,"postTaskCode":902,"conditionType":"NONE"},{"preTaskCode":902,"postTaskCode":903,"conditionType":"NONE"}],
"taskDefinitionList":[
{"code":901,"name":"生成","taskType":"SHELL","taskParams":{"localParams":[{"prop":"who","direct":"IN","type":"VARCHAR","value":"${region}-x"},{"prop":"rows","direct":"OUT","type":"VARCHAR","value":""}],"rawScript":"echo \"A ${who} ${day}\"\necho '${setValue(rows=42)}'","resourceList":[]},"flag":"YES","taskPriority":"MEDIUM","workerGroup":"default","environmentCode":-1,"failRetryTimes":0,"failRetryInterval":1,"timeoutFlag":"CLOSE","timeout":0,"delayTime":0},
{"code":902,"name":"报告","taskType":"PYTHON","taskParams":{"localParams":[],"rawScript":"print(\"B ${rows} ${region}\")","resourceList":[]},"flag":"YES","taskPriority":"MEDIUM","workerGroup":"default","environmentCode":-1,"failRetryTimes":0,"failRetryInterval":1,"timeoutFlag":"CLOSE","timeout":0,"delayTime":0},
{"code":903,"name":"c","taskType":"SHELL","taskParams":{"localParams":[{"prop":"region","direct":"IN","type":"VARCHAR","value":"local"}],"rawScript":"echo \"C ${region}\"","resourceList":[]},"flag":"YES","taskPriority":"MEDIUM","workerGroup":"default","environmentCode":-1,"failRetryTimes":0,"failRetryInterval":1,"timeoutFlag":"CLOSE","timeout":0,"delayTime":0}],
"schedule":null}]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converted_shell_and_python_workflow_runs_in_order_with_its_params() {
    use pgdag::import::dolphinscheduler::{Input, Options, import};
    let cluster = TestCluster::start().await;
    let imported = import(
        &[Input {
            file: "run.json",
            text: RUN_EXPORT,
        }],
        &Options {
            project: Some("p".into()),
            allow_unsupported: false,
        },
    )
    .unwrap();
    let name = imported.workflows[0].name.clone();
    assert_eq!(name, "can_shu_liu_cheng");
    cluster.apply(&imported.yaml()).await;
    let id = cluster
        .run(&format!("p/{name}"), serde_json::json!({}))
        .await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    let a = task(&detail, "sheng_cheng");
    let b = task(&detail, "bao_gao");
    let c = task(&detail, "c");
    assert!(a.ended_at.unwrap() <= b.started_at.unwrap());
    assert!(b.ended_at.unwrap() <= c.started_at.unwrap());
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    let log_a = log_text(&cluster.store, a.id).await;
    assert!(log_a.contains(&format!("A eu-x {today}")), "{log_a}");
    let log_b = log_text(&cluster.store, b.id).await;
    assert!(log_b.contains("B 42 eu"), "{log_b}");
    let log_c = log_text(&cluster.store, c.id).await;
    assert!(log_c.contains("C local"), "{log_c}");
}
