//! What an operator sees of a running process (issue 17): names in `pg_stat_activity`,
//! `pgdag servers`, the observability endpoints of every process.

use std::time::{Duration, Instant};

use pgdag::server::Role;

use crate::harness::*;

/// The `application_name`s of the connections to `db` that pgdag opened.
async fn names_in_pg_stat_activity(db: &TestDb) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query(
            "select application_name from pg_stat_activity
             where datname = $1 and application_name like 'pgdag:%' and pid <> pg_backend_pid()
             order by 1",
            &[&db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_named_by_roles_and_server_id_and_servers_shows_host_and_pid() {
    let cluster = TestCluster::start_with(&[Role::Master, Role::Worker], |_| {}).await;
    let id = cluster.running.as_ref().unwrap().server_id();
    let expected = format!("pgdag:master+worker:{id}");
    // The connections opened before the id was known (the start-up checks) close with
    // their pool; wait for them to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    let names = loop {
        let names: Vec<String> = names_in_pg_stat_activity(&cluster.db)
            .await
            .into_iter()
            .filter(|n| n != "pgdag:test")
            .collect();
        if !names.is_empty() && names.iter().all(|n| *n == expected) {
            break names;
        }
        assert!(Instant::now() < deadline, "{names:?}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The lock connection, the listener and pooled connections.
    assert!(names.len() >= 2, "{names:?}");

    let mut servers = pgdag(&cluster.db);
    servers.arg("servers");
    let out = servers.output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().next().unwrap();
    assert!(header.contains("HOST") && header.contains("PID"), "{text}");
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("server {id} in\n{text}"));
    assert!(row.contains(&host), "{row}");
    assert!(row.contains(&format!(" {} ", std::process::id())), "{row}");
}

/// Lines of a spawned process's stdout, on a channel.
fn stdout_lines(child: &mut ChildGuard) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    rx
}

async fn get(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample line that starts with `series ` (`None`: no such line).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_only_process_serves_metrics_health_and_readiness_on_its_own_address() {
    // A master in this test process; the worker is the real binary, with no api role.
    let cluster = TestCluster::start_with(&[Role::Master], |_| {}).await;
    cluster
        .apply(
            "project: obs\nname: two\ntasks:\n  - name: a\n    type: shell\n    script: echo a\n  - name: b\n    type: shell\n    script: sleep 0.2\n    depends_on: [a]\n",
        )
        .await;
    let mut worker = pgdag(&cluster.db);
    worker.args(["server", "--roles", "worker"]);
    let mut worker = spawn(worker);
    let lines = stdout_lines(&mut worker);
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the worker prints where it serves metrics");
        if let Some(addr) = line.strip_prefix("pgdag metrics listening on http://") {
            break addr.to_string();
        }
    };
    let id = cluster.run("obs/two", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");

    assert_eq!(get(format!("http://{addr}/healthz")).await.0, 200);
    let (status, body) = get(format!("http://{addr}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(format!("http://{addr}/api/v1/projects")).await.0, 404);
    let (status, text) = get(format!("http://{addr}/metrics")).await;
    assert_eq!(status, 200);
    // This process claimed and ran both attempts: its histograms saw them.
    assert_eq!(
        sample(&text, "pgdag_task_claims_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "pgdag_queue_wait_seconds_count"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "pgdag_task_run_seconds_count{task_type=\"shell\"}"),
        Some(2.0),
        "{text}"
    );
    let slow = sample(&text, "pgdag_task_run_seconds_sum{task_type=\"shell\"}").unwrap();
    assert!(slow >= 0.2, "b slept 0.2 s: {text}");
    assert_eq!(
        sample(&text, "pgdag_live_servers{role=\"worker\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "pgdag_live_servers{role=\"master\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "pgdag_leader"),
        Some(0.0),
        "a worker never leads"
    );
    assert!(
        !text.contains("pgdag_instances"),
        "only the leader reads them: {text}"
    );
    for name in pgdag::metrics::names() {
        assert!(
            text.contains(&format!("# TYPE {name} "))
                || name.starts_with("pgdag_instances")
                || name.starts_with("pgdag_task_instances"),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_with_the_reason_while_fenced_or_behind_on_migrations() {
    let cluster = TestCluster::start_with(&[Role::Worker], |c| {
        c.heartbeat_interval = pgdag::model::Duration::from_millis(200);
        c.dead_after = pgdag::model::Duration::from_secs(1);
    })
    .await;
    let running = cluster.running.as_ref().unwrap();
    let addr = running
        .metrics_addr
        .expect("a worker-only process serves metrics");
    let id = running.server_id();
    let readyz = || get(format!("http://{addr}/readyz"));
    assert_eq!(readyz().await.0, 200);

    // Block the heartbeat: hold the server row locked. After PGDAG_DEAD_AFTER without a
    // heartbeat the process fences itself.
    let (mut client, connection) = tokio_postgres::connect(&cluster.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "select 1 from pgdag.server where id = $1 for update",
        &[&id],
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body) = readyz().await;
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "never fenced: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unready");
    assert!(
        body["reason"].as_str().unwrap().starts_with("fenced"),
        "{body}"
    );
    // Alive all the same.
    assert_eq!(get(format!("http://{addr}/healthz")).await.0, 200);
    tx.rollback().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = readyz().await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never ready again: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A database behind this binary's migrations.
    client
        .execute(
            "delete from pgdag_schema_history where version = (select max(version) from pgdag_schema_history)",
            &[],
        )
        .await
        .unwrap();
    let (status, body) = readyz().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("migrations not current"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_uses_only_metrics_that_exist() {
    // The leader's /metrics has every metric (the instance gauges only there).
    let cluster = TestCluster::start_with(&[Role::Api, Role::Master], |_| {}).await;
    let base = format!("http://{}", cluster.api());
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let (status, text) = get(format!("{base}/metrics")).await;
        assert_eq!(status, 200);
        if text.contains("# TYPE pgdag_instances gauge") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the leader never reported instances: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut used = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("pgdag_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                used.insert(name);
            }
        }
    }
    assert!(used.len() >= 15, "{used:?}");
    for name in &used {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|b| text.contains(&format!("# TYPE {b} histogram")))
            })
            .unwrap_or(name);
        assert!(
            text.contains(&format!("# TYPE {base} ")),
            "the dashboard uses {name}, which /metrics does not have"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_ids_as_fields() {
    let db = TestDb::new().await;
    let store = db.store();
    apply(
        &store,
        "project: obs\nname: one\ntasks:\n  - name: a\n    type: shell\n    script: echo a\n",
    )
    .await;
    let dir = temp_dir();
    let stderr = dir.path().join("stderr");
    let mut server = pgdag(&db);
    server
        .args(["server", "--roles", "master,worker"])
        .env("PGDAG_LOG_FORMAT", "json")
        .env("PGDAG_LOG", "pgdag=debug,warn")
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut server = ChildGuard(
        server
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pgdag"),
    );
    let lines = stdout_lines(&mut server);
    lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the server started");
    let id = run(&store, "obs/one", serde_json::json!({})).await;
    let detail = wait_final(&store, id, Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded");
    let task_id = task(&detail, "a").id;
    drop(server);

    let log = std::fs::read_to_string(&stderr).unwrap();
    let objects: Vec<serde_json::Value> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .filter(|v| v.is_object())
                .unwrap_or_else(|| panic!("not a JSON object: {l:?}"))
        })
        .collect();
    for o in &objects {
        assert!(o["timestamp"].is_string() && o["level"].is_string(), "{o}");
    }
    assert!(
        objects.iter().any(|o| o["message"]
            .as_str()
            .is_some_and(|m| m.contains("running as"))),
        "the start-up line is JSON too: {log}"
    );
    assert!(objects.iter().any(|o| o["server_id"].is_i64()), "{log}");
    let attempt = objects
        .iter()
        .find(|o| o["task_instance_id"] == task_id)
        .unwrap_or_else(|| panic!("no line of attempt {task_id}: {log}"));
    assert_eq!(attempt["instance_id"], id, "{attempt}");
    assert!(attempt["server_id"].is_i64(), "{attempt}");
}
