//! Big DAGs: a workflow of `--bigdag-tasks` (default 10,000) shell tasks `true`, laid out in
//! layers of 100 where each task waits for the one above it. Measures `pgdag apply` of it
//! (the CLI itself, as a child process: created, then one task changed, then unchanged), a
//! fresh standalone running one instance of it (wall time and peak RSS, `VmHWM`), the
//! instance page (whole, its refresh fragment, a filtered later page) and the REST task page
//! against the full REST body. Its own database and standalone, so the RSS is this run's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgdag::store::{self, Store, instances, users};

pub struct Report {
    pub rows: Vec<(String, String)>,
    pub json: serde_json::Map<String, serde_json::Value>,
}

/// Tasks in one layer of the generated DAG.
const WIDTH: usize = 100;

fn yaml(tasks: usize, changed: Option<usize>) -> String {
    let mut out = String::from("project: bigdag\nname: big\ntasks:\n");
    for i in 0..tasks {
        let script = if Some(i) == changed { "true " } else { "true" };
        out.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: '{script}'"
        ));
        if i >= WIDTH {
            out.push_str(&format!(", depends_on: [t{}]", i - WIDTH));
        }
        out.push_str(" }\n");
    }
    out
}

/// `pgdag apply -f FILE` against `url`, timed from spawn to exit; its output line.
fn apply(exe: &Path, url: &str, file: &Path) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new(exe)
        .args(["apply", "-f"])
        .arg(file)
        .env("PGDAG_DATABASE_URL", url)
        .env("PGDAG_LOG", "warn")
        .output()
        .expect("run pgdag apply");
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "pgdag apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        took,
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

pub async fn run(admin_url: &str, exe: &Path, tasks: usize, max_tasks: usize) -> Report {
    let db_name = format!("pgdag_bench_bigdag_{}", std::process::id());
    let url = format!("{}/{db_name}", admin_url.rsplit_once('/').unwrap().0);
    store::ensure_database(&url)
        .await
        .expect("create the bigdag database");
    let store = Store::connect(&url, "pgdag:bench", 2).unwrap();
    store.migrate().await.expect("migrate");
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();

    let dir = std::env::temp_dir().join(format!("pgdag-bench-bigdag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.yaml");
    for (key, label, changed) in [
        ("apply_created_s", "created", None),
        ("apply_one_changed_s", "one task changed", Some(tasks / 2)),
        ("apply_unchanged_s", "unchanged", Some(tasks / 2)),
    ] {
        std::fs::write(&file, yaml(tasks, changed)).unwrap();
        let (took, said) = apply(exe, &url, &file);
        eprintln!("  bigdag: {said} in {took:.2} s");
        rows.push((
            format!("`pgdag apply` of {tasks} tasks, {label}"),
            format!("{took:.2} s (target <= 1.5 s)"),
        ));
        json.insert(key.into(), took.into());
    }
    std::fs::remove_dir_all(&dir).ok();

    let token = {
        let client = store.client().await.unwrap();
        users::add(&client, "bench-bigdag", None, true)
            .await
            .unwrap();
        users::create_token(&client, "bench-bigdag", None, None)
            .await
            .unwrap()
            .token
    };
    let mut child = Command::new(exe)
        .arg("standalone")
        .env("PGDAG_DATABASE_URL", &url)
        .env("PGDAG_HTTP_ADDR", "127.0.0.1:0")
        .env("PGDAG_METRICS_ADDR", "127.0.0.1:0")
        .env("PGDAG_MAX_TASKS", max_tasks.to_string())
        .env("PGDAG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the bigdag standalone");
    let pid = child.id();
    // Kept open until the end: the standalone may still write to its stdout.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .find_map(|l| l.ok().filter(|l| l.contains("http://")))
        .unwrap_or_default();
    let base = ready
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("standalone did not start: {ready:?}"))
        .to_string();
    let idle_rss = crate::peak_rss_kb(pid) as f64 / 1024.0;

    let id = crate::start(&store, "bigdag", "big").await;
    let detail = wait_final(&store, id).await;
    let wall = crate::wall_seconds(&detail);
    let rss = crate::peak_rss_kb(pid) as f64 / 1024.0;
    eprintln!("  bigdag: instance {id} ran in {wall:.1} s, peak RSS {rss:.1} MiB");
    rows.push((
        format!("{tasks} shell tasks `true`, one instance, wall"),
        format!("{wall:.1} s ({:.0} tasks/s)", tasks as f64 / wall),
    ));
    rows.push((
        format!("standalone peak RSS running {tasks} tasks"),
        format!("{rss:.1} MiB (target <= 100 MiB; {idle_rss:.1} MiB once started)"),
    ));
    json.insert("bigdag_tasks".into(), tasks.into());
    json.insert("bigdag_wall_s".into(), wall.into());
    json.insert("bigdag_peak_rss_mib".into(), rss.into());
    json.insert("bigdag_started_rss_mib".into(), idle_rss.into());

    let middle = tasks as i64 / 2;
    let http = reqwest::Client::new();
    let pages = [
        ("instance page", "page", format!("/instances/{id}"), 100.0),
        (
            "instance page refresh fragment",
            "live",
            format!("/instances/{id}?partial=live"),
            100.0,
        ),
        (
            "instance page, state filter, a later page",
            "filtered",
            format!("/instances/{id}?state=succeeded&after={middle}"),
            100.0,
        ),
        (
            "REST task page (limit 100)",
            "rest_page",
            format!("/api/v1/instances/{id}/tasks?after={middle}"),
            f64::NAN,
        ),
        (
            "REST instance with every task (for comparison)",
            "rest_full",
            format!("/api/v1/instances/{id}"),
            f64::NAN,
        ),
    ];
    for (label, key, path, target) in pages {
        let (p50, p95, bytes) = crate::pages::time_page(&http, &base, &token, &path).await;
        let target = if target.is_nan() {
            String::new()
        } else {
            format!("; target <= {target:.0} ms, <= 1024 KiB")
        };
        rows.push((
            format!("{label}, {tasks} tasks"),
            format!(
                "p50 {p50:.1} ms, p95 {p95:.1} ms ({} KiB{target})",
                bytes / 1024
            ),
        ));
        json.insert(format!("bigdag_{key}_ms_p50"), p50.into());
        json.insert(format!("bigdag_{key}_ms_p95"), p95.into());
        json.insert(format!("bigdag_{key}_bytes"), bytes.into());
    }
    let after_pages = crate::peak_rss_kb(pid) as f64 / 1024.0;
    rows.push((
        "standalone peak RSS after the page measures".into(),
        format!("{after_pages:.1} MiB"),
    ));
    json.insert("bigdag_peak_rss_after_pages_mib".into(), after_pages.into());

    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = child.wait();
    drop(lines);
    store.pool.close();
    let (admin, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let _ = admin
        .batch_execute(&format!("drop database if exists {db_name} with (force)"))
        .await;
    Report { rows, json }
}

/// Wait (at most 10 minutes) for instance `id` to succeed, reading only its row (reading
/// 10,000 task rows every poll would load the database the standalone is measured on).
async fn wait_final(store: &Store, id: i64) -> instances::InstanceDetail {
    let client = store.client().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(detail) = instances::get_head(&client, id).await.unwrap()
            && detail
                .state
                .parse::<pgdag::model::WorkflowState>()
                .unwrap()
                .is_final()
        {
            assert_eq!(detail.state, "succeeded", "bigdag instance {id} failed");
            return detail;
        }
        assert!(
            Instant::now() < deadline,
            "bigdag instance {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
