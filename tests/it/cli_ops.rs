//! The daily-operations CLI (issue 18, points 4 and 7) through the real binary: listings
//! with their REST shapes, per-run overrides, complete exports, apply --dry-run, plan.

use pgdag::server::Role;

use crate::harness::*;

fn output(mut command: std::process::Command) -> (i32, String, String) {
    let out = command.output().expect("run pgdag");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pgdag ARGS...` against `db`: (exit code, stdout, stderr).
fn cli(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let mut command = pgdag(db);
    command.args(args);
    output(command)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn rest(base: &str, token: &str, path: &str) -> serde_json::Value {
    let answer = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{path}");
    answer.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_print_tables_and_exactly_the_rest_shapes() {
    let cluster = TestCluster::start().await;
    let base = format!("http://{}", cluster.api());
    let token = cluster.api_token("alice").await;
    cluster
        .apply(
            "project: a\nname: nightly\nschedule: { cron: '0 0 2 * * ?', timezone: Europe/Berlin }\ntasks: [{name: t, type: shell, script: 'true'}]\n---\nproject: a\nname: parked\nrelease: offline\ntasks: [{name: t, type: empty}]\n---\nproject: b\nname: broken\ntasks: [{name: t, type: shell, script: 'exit 3'}]\n",
        )
        .await;
    let first = cluster.run("a/nightly", serde_json::json!({})).await;
    let failed = cluster.run("b/broken", serde_json::json!({})).await;
    let last = cluster.run("a/nightly", serde_json::json!({})).await;
    for id in [first, failed, last] {
        cluster.wait_final(id).await;
    }
    let db = &cluster.db;

    let (code, stdout, stderr) = cli(db, &["projects", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout), rest(&base, &token, "/api/v1/projects").await);
    let (code, stdout, _) = cli(db, &["projects"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("PROJECT"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("a ") && l.contains(" 2 ")),
        "{stdout}"
    );

    let (code, stdout, stderr) = cli(db, &["workflows", "--project", "a", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed = json(&stdout);
    assert_eq!(
        listed,
        rest(&base, &token, "/api/v1/projects/a/workflows").await
    );
    assert_eq!(listed["workflows"][0]["name"], "nightly");
    assert_eq!(listed["workflows"][0]["schedule"]["cron"], "0 0 2 * * ?");
    assert_eq!(listed["workflows"][1]["release"], "offline");
    let (code, stdout, _) = cli(db, &["workflows"]);
    assert_eq!(code, 0);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_string()
    };
    assert!(
        line("nightly").contains("0 0 2 * * ? Europe/Berlin on"),
        "{stdout}"
    );
    assert!(line("parked").contains("offline"), "{stdout}");
    assert!(line("broken").starts_with("b "), "{stdout}");
    let (code, _, stderr) = cli(db, &["workflows", "--project", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("project nope does not exist"), "{stderr}");

    let (code, stdout, stderr) = cli(db, &["instances", "--project", "a", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed = json(&stdout);
    assert_eq!(
        listed,
        rest(&base, &token, "/api/v1/instances?project=a").await
    );
    let ids: Vec<i64> = listed["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![last, first], "newest first");
    let (_, stdout, _) = cli(db, &["instances", "--state", "failed", "--json"]);
    let listed = json(&stdout);
    assert_eq!(listed["instances"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["instances"][0]["id"], failed);
    let (_, stdout, _) = cli(
        db,
        &[
            "instances",
            "--workflow",
            "nightly",
            "--limit",
            "1",
            "--json",
        ],
    );
    assert_eq!(json(&stdout)["instances"][0]["id"], last);
    let (code, stdout, _) = cli(db, &["instances"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().count(),
        4,
        "a header and three instances: {stdout}"
    );
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&last.to_string())
    );
    for (args, says) in [
        (&["instances", "--state", "sleepy"][..], "--state"),
        (
            &["instances", "--limit", "0"][..],
            "--limit must be a number from 1 to 1000",
        ),
        (
            &["instances", "--limit", "1001"][..],
            "--limit must be a number from 1 to 1000",
        ),
    ] {
        let (code, _, stderr) = cli(db, args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }

    let (code, stdout, stderr) = cli(db, &["user", "list", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let users = json(&stdout);
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["name"] == "alice"),
        "{users}"
    );
    // The administration commands the issue names exist.
    let (code, _, stderr) = cli(db, &["ctl", "force-success", "987654321"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("task instance 987654321 does not exist"),
        "{stderr}"
    );
    let (code, _, stderr) = cli(db, &["user", "passwd", "nobody"]);
    assert_eq!(code, 2, "{stderr}");
}

/// The options of the start command of instance `id`.
async fn command_options(db: &TestDb, id: i64) -> serde_json::Value {
    let client = db.store().client().await.unwrap();
    client
        .query_one(
            "select options from pgdag.command where workflow_instance_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

async fn command_count(db: &TestDb) -> i64 {
    let client = db.store().client().await.unwrap();
    client
        .query_one("select count(*) from pgdag.command", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_backfill_take_the_per_run_overrides_rest_takes() {
    // Only the api role: start commands stay as written, for comparing.
    let cluster = TestCluster::start_with(&[Role::Api], |_| {}).await;
    let base = format!("http://{}", cluster.api());
    let token = cluster.api_token("alice").await;
    cluster
        .apply("project: p\nname: w\ntasks:\n  - {name: a, type: empty}\n  - {name: b, type: empty, depends_on: [a]}\n  - {name: c, type: empty, depends_on: [b]}\n")
        .await;
    let db = &cluster.db;

    let (code, stdout, stderr) = cli(
        db,
        &[
            "run",
            "p/w",
            "--priority",
            "high",
            "--failure-strategy",
            "end",
            "--worker-group",
            "gpu",
            "--start-node",
            "b",
            "--start-node",
            "c",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let by_cli: i64 = stdout.trim().parse().unwrap();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/projects/p/workflows/w/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "priority": "high", "failure_strategy": "end", "worker_group": "gpu",
            "start_nodes": ["b", "c"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_rest = answer["instance_ids"][0].as_i64().unwrap();
    let options = command_options(db, by_cli).await;
    assert_eq!(options, command_options(db, by_rest).await);
    assert_eq!(
        options,
        serde_json::json!({"priority": "high", "failure_strategy": "end", "worker_group": "gpu", "start_nodes": ["b", "c"]})
    );

    let (code, stdout, stderr) = cli(
        db,
        &[
            "backfill",
            "p/w",
            "--dates",
            "2026-01-01,2026-01-02",
            "--priority",
            "low",
            "--worker-group",
            "etl",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<i64> = stdout.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{stdout}");
    for id in ids {
        let options = command_options(db, id).await;
        assert_eq!(options["priority"], "low", "{options}");
        assert_eq!(options["worker_group"], "etl", "{options}");
        assert!(options.get("failure_strategy").is_none(), "{options}");
    }

    let before = command_count(db).await;
    for (args, says) in [
        (&["run", "p/w", "--priority", "urgent"][..], "--priority"),
        (
            &["run", "p/w", "--failure-strategy", "panic"][..],
            "--failure-strategy",
        ),
        (
            &["run", "p/w", "--worker-group", " "][..],
            "--worker-group is empty",
        ),
        (
            &["run", "p/w", "--start-node", "zz"][..],
            "--start-node zz is not a task of p/w",
        ),
        (
            &[
                "backfill",
                "p/w",
                "--dates",
                "2026-01-01",
                "--failure-strategy",
                "maybe",
            ][..],
            "--failure-strategy",
        ),
    ] {
        let (code, _, stderr) = cli(db, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(
        command_count(db).await,
        before,
        "a refused start writes nothing"
    );
}

/// Every document kind `apply` takes, secrets among them; the tenant `shop_default` is
/// named by no workflow, only as the project's default, and is exported all the same.
const PROJECT: &str = r#"kind: tenant
name: etl
os_user: etl_runner
projects: [shop, other]
---
kind: tenant
name: shop_default
os_user: shop_runner
projects: [shop]
default_for: [shop]
---
kind: task_group
name: db_slots
size: 3
---
kind: task_group
name: unused
size: 9
---
kind: alert_group
name: oncall
channels:
  - { type: email, to: [ops@example.com], smtp: { host: smtp.example.com, port: 587, starttls: true, from: pgdag@example.com, user: pgdag, password_env: SMTP_PASSWORD } }
  - { type: webhook, url: "https://alerts.example.com" }
---
kind: alert_group
name: chat
channels:
  - { type: webhook, url: "https://hooks.example.com/services/T000/B000/SEKRETTOKEN", headers: { Authorization: "Bearer SEKRETHEADER" } }
  - { type: email, to: [dev@example.com], smtp: { host: smtp.example.com, port: 465, tls: true, from: pgdag@example.com, user: pgdag, password: SEKRETSMTP } }
---
kind: datasource
project: shop
name: warehouse
type: postgres
url: postgres://etl@db.internal:5432/warehouse
password_env: WAREHOUSE_PASSWORD
---
kind: datasource
project: shop
name: ledger
type: mysql
url: mysql://etl@ledger.internal:3306/ledger
password: SEKRETPASSWORD
---
project: shop
name: daily
tenant: etl
params: { region: eu }
notify: { when: failure, group: oncall }
schedule: { cron: "0 0 2 * * ?", timezone: Europe/Berlin, start: 2026-01-01 }
tasks:
  - name: load
    type: shell
    script: |
      echo load ${region}
    task_group: db_slots
  - name: report
    type: sql
    datasource: warehouse
    sql: select 1
    send_result_to: chat
    depends_on: [load]
---
project: shop
name: weekly
tasks: [{ name: t, type: empty }]
---
kind: schedule
project: shop
workflow: weekly
cron: "0 0 6 ? * MON"
timezone: Europe/Berlin
start: 2026-02-01
misfire: skip
---
kind: schedule
project: shop
workflow: daily
cron: "0 30 4 * * ?"
enabled: false
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_every_kind_applies_to_an_empty_database_and_exports_the_same() {
    let first = TestDb::new().await;
    let dir = temp_dir();
    let path = dir.path().join("shop.yaml");
    std::fs::write(&path, PROJECT).unwrap();
    let mut apply = pgdag(&first);
    apply
        .env(pgdag::secret::SECRET_KEY_VAR, SECRET_KEY)
        .args(["apply", "-f"])
        .arg(&path);
    let (code, stdout, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("schedule \"0 0 6 ? * MON\" of shop/weekly: applied"),
        "{stdout}"
    );
    // On/off state changed outside the YAML: a schedule switched off, a workflow offline.
    let (code, _, stderr) = cli(&first, &["schedule", "off", "shop/daily"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cli(&first, &["workflow", "offline", "shop/weekly"]);
    assert_eq!(code, 0, "{stderr}");

    let (code, exported, stderr) = cli(&first, &["export", "--project", "shop"]);
    assert_eq!(code, 0, "{stderr}");
    for secret in [
        "SEKRETTOKEN",
        "SEKRETHEADER",
        "SEKRETPASSWORD",
        "SEKRETSMTP",
        "T000",
    ] {
        assert!(!exported.contains(secret), "{secret} leaked: {exported}");
    }
    let kinds: Vec<&str> = exported
        .split("\n---\n")
        .map(|doc| {
            doc.lines()
                .find(|l| !l.starts_with('#'))
                .and_then(|l| l.strip_prefix("kind: "))
                .unwrap_or("workflow")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "tenant",
            "tenant",
            "task_group",
            "alert_group",
            "alert_group",
            "datasource",
            "datasource",
            "workflow",
            "workflow",
            "schedule",
            "schedule"
        ],
        "{exported}"
    );
    assert!(
        !exported.contains("unused"),
        "only the task groups the workflows use: {exported}"
    );
    // One workflow takes only the datasources its tasks use.
    let (code, daily, stderr) = cli(
        &first,
        &["export", "--project", "shop", "--workflow", "daily"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(daily.contains("name: warehouse"), "{daily}");
    assert!(!daily.contains("name: ledger"), "{daily}");
    let (code, weekly, stderr) = cli(
        &first,
        &["export", "--project", "shop", "--workflow", "weekly"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!weekly.contains("kind: datasource"), "{weekly}");
    assert!(
        weekly.contains("name: shop_default"),
        "the project's default tenant goes with any of its workflows: {weekly}"
    );
    assert!(
        exported.contains("password_env: WAREHOUSE_PASSWORD"),
        "{exported}"
    );
    assert!(
        exported.contains("password_env: SMTP_PASSWORD"),
        "{exported}"
    );
    assert!(
        exported
            .contains("# datasource shop/ledger: its password is stored encrypted and left out"),
        "{exported}"
    );
    assert!(
        exported.contains("url: https://hooks.example.com\n"),
        "{exported}"
    );
    assert!(
        exported.contains("# channel 1 (webhook): its URL may hold a token"),
        "{exported}"
    );
    assert!(
        exported.contains("header values may be secrets and are left out (Authorization)"),
        "{exported}"
    );
    assert!(
        exported.contains("# channel 2 (email): its SMTP password is stored encrypted and left out; set CHAT_SMTP_PASSWORD_2"),
        "{exported}"
    );
    assert!(
        exported.contains("password_env: CHAT_SMTP_PASSWORD_2"),
        "{exported}"
    );
    assert!(exported.contains("release: offline"), "{exported}");
    assert!(exported.contains("enabled: false"), "{exported}");
    assert!(
        exported.contains("start: \"2026-02-01T00:00:00+01:00\""),
        "{exported}"
    );

    // Into an empty database, and out again.
    let second = TestDb::new().await;
    let copy = dir.path().join("copy.yaml");
    std::fs::write(&copy, &exported).unwrap();
    let mut apply = pgdag(&second);
    apply.args(["apply", "-f"]).arg(&copy);
    let (code, _, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    let (code, again, stderr) = cli(&second, &["export", "--project", "shop"]);
    assert_eq!(code, 0, "{stderr}");
    // Documents without secrets come back byte for byte; those with secrets lose only the
    // comments (what was left out is now simply absent).
    let without_comments: String = exported
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(again, without_comments);
    assert!(!again.contains("\n# "), "{again}");
    // And once more: an export of an export is a fixed point.
    let third = TestDb::new().await;
    std::fs::write(&copy, &again).unwrap();
    let mut apply = pgdag(&third);
    apply.args(["apply", "-f"]).arg(&copy);
    assert_eq!(output(apply).0, 0);
    let (_, third_export, _) = cli(&third, &["export", "--project", "shop"]);
    assert_eq!(third_export, again);
    // Applying the export where it came from changes nothing.
    let mut apply = pgdag(&second);
    apply.args(["apply", "--dry-run", "-f"]).arg(&copy);
    let (code, stdout, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 11, "{stdout}");
    assert!(
        stdout.lines().all(|l| l.ends_with(": unchanged")),
        "{stdout}"
    );
}

async fn counts(db: &TestDb) -> Vec<i64> {
    let client = db.store().client().await.unwrap();
    let mut out = Vec::new();
    for sql in [
        "select count(*) from pgdag.workflow_definition_log",
        "select count(*) from pgdag.task_definition_log",
        "select coalesce(sum(version), 0) from pgdag.workflow_definition",
        "select count(*) from pgdag.audit",
        "select count(*) from pgdag.schedule where enabled",
        "select count(*) from pgdag.schedule",
        "select coalesce(sum(size), 0) from pgdag.task_group",
        "select count(*) from pgdag.datasource",
        "select count(*) from pgdag.project",
    ] {
        out.push(client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_dry_run_writes_nothing_and_diffs_against_the_stored_version() {
    let db = TestDb::new().await;
    let dir = temp_dir();
    let path = dir.path().join("p.yaml");
    let v1 = "kind: task_group\nname: tg\nsize: 2\n---\nkind: datasource\nproject: p\nname: dw\ntype: postgres\nurl: postgres://u@h/dw\n---\nproject: p\nname: w\ntasks:\n  - name: a\n    type: shell\n    script: echo one\n  - name: b\n    type: empty\n    depends_on: [a]\n---\nkind: schedule\nproject: p\nworkflow: w\ncron: \"0 0 1 * * ?\"\n";
    std::fs::write(&path, v1).unwrap();
    let mut apply = pgdag(&db);
    apply.args(["apply", "-f"]).arg(&path);
    let (code, _, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    let before = counts(&db).await;

    let v2 = v1
        .replace("echo one", "echo two")
        .replace("url: postgres://u@h/dw", "url: postgres://u@h2/dw")
        .replace(
            "cron: \"0 0 1 * * ?\"\n",
            "cron: \"0 0 1 * * ?\"\nenabled: false\n",
        )
        + "---\nproject: p\nname: fresh\ntasks: [{name: x, type: empty}]\n---\nkind: task_group\nname: tg2\nsize: 1\n";
    std::fs::write(&path, v2).unwrap();
    let mut dry = pgdag(&db);
    dry.args(["apply", "--dry-run", "-f"]).arg(&path);
    let (code, stdout, stderr) = output(dry);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(stdout.contains("task group tg: unchanged\n"), "{stdout}");
    assert!(stdout.contains("task group tg2: created\n"), "{stdout}");
    assert!(stdout.contains("workflow p/fresh: created\n"), "{stdout}");
    assert!(
        stdout.contains("workflow p/w: changed\n--- stored\n+++ file\n@@ "),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n-    script: echo one\n+    script: echo two\n"),
        "{stdout}"
    );
    assert!(stdout.contains("datasource p/dw: changed\n"), "{stdout}");
    assert!(
        stdout.contains("-url: postgres://u@h/dw\n+url: postgres://u@h2/dw\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("schedule \"0 0 1 * * ?\" of p/w: changed\n"),
        "{stdout}"
    );
    assert!(stdout.contains("+enabled: false\n"), "{stdout}");
    assert_eq!(counts(&db).await, before, "a dry run writes nothing");

    // A file that apply would refuse is refused by the dry run too, the same way.
    std::fs::write(
        &path,
        "project: p\nname: w\ntasks: [{name: a, type: shel}]\n",
    )
    .unwrap();
    let mut dry = pgdag(&db);
    dry.args(["apply", "--dry-run", "-f"]).arg(&path);
    let (code, _, stderr) = output(dry);
    assert_eq!(code, 2);
    assert!(stderr.contains("p.yaml:3:"), "{stderr}");
    assert_eq!(counts(&db).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_prints_the_tasks_in_run_order_with_parameters_expanded() {
    let db = TestDb::new().await;
    apply(
        &db.store(),
        "project: p\nname: w\nparams: { region: eu, dt: \"${system.biz.date}\" }\ntasks:\n  - name: report\n    type: shell\n    script: echo report ${dt}\n    depends_on: [load, extract]\n  - name: load\n    type: shell\n    params:\n      table: sales_${region}\n    script: |\n      echo load ${table}\n      echo day $[yyyyMMdd-1] ${rows}\n    depends_on: [extract]\n  - name: extract\n    type: shell\n    script: echo extract ${region} ${dt}\n",
    )
    .await;
    let (code, stdout, stderr) = cli(
        &db,
        &[
            "plan",
            "p/w",
            "--date",
            "2026-03-10",
            "--param",
            "region=us",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let expected = "plan of p/w version 1, schedule time 2026-03-10T00:00:00+00:00 (UTC)

layer 1
  extract (shell)
    params: dt=20260309 region=us
    script: echo extract us 20260309

layer 2
  load (shell) after extract
    params: dt=20260309 region=us table=sales_us
    script:
      echo load sales_us
      echo day 20260309 ${rows}

layer 3
  report (shell) after load, extract
    params: dt=20260309 region=us
    script: echo report 20260309
";
    assert_eq!(stdout, expected);

    for (args, says) in [
        (&["plan", "p/nope"][..], "workflow p/nope does not exist"),
        (
            &["plan", "p/w", "--param", "region"][..],
            "is not NAME=VALUE",
        ),
        (
            &["plan", "p/w", "--param", "x=$[foo]"][..],
            "malformed time expression",
        ),
        (&["plan", "p/w", "--date", "2026-13-01"][..], "--date"),
    ] {
        let (code, _, stderr) = cli(&db, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(command_count(&db).await, 0, "a plan writes nothing");
}
