//! A Postgres restart in the middle of a workflow: the processes reconnect and the chain
//! completes. This restarts the machine's shared Postgres cluster, so it is a test binary of
//! its own (cargo runs test binaries one after another) with a single test; do not run it
//! while other tests use that Postgres.
//!
//! Needs `pg_ctlcluster` (Debian's postgresql-common) and the right to use it; set
//! `PGDAG_SKIP_PG_RESTART=1` to skip it where the tests run against a Postgres they may not
//! restart.

#[path = "it/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "cluster/support.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// The version of the cluster `main` on port 5432 (from `pg_lsclusters`, else /etc/postgresql).
fn cluster_version() -> String {
    if let Ok(out) = Command::new("pg_lsclusters").arg("--no-header").output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 3 && fields[1] == "main" && fields[2] == "5432" {
                return fields[0].to_string();
            }
        }
    }
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("no pg_lsclusters and no /etc/postgresql: cannot find the Postgres cluster")
        .flatten()
        .filter(|e| e.path().join("main").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no cluster under /etc/postgresql/*/main")
}

fn pg_ctl(version: &str, action: &str) -> bool {
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", action])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn pg_ready() -> bool {
    Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whatever happens in the test, Postgres is up again when this drops.
struct PostgresUp {
    version: String,
}

impl Drop for PostgresUp {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pg_ready() && Instant::now() < deadline {
            pg_ctl(&self.version, "start");
            std::thread::sleep(Duration::from_millis(500));
        }
        if !pg_ready() {
            eprintln!(
                "Postgres is NOT up after the test: run `pg_ctlcluster --skip-systemctl-redirect {} main start`",
                self.version
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_completes_across_a_postgres_restart() {
    if std::env::var_os("PGDAG_SKIP_PG_RESTART").is_some() {
        println!("skipped: PGDAG_SKIP_PG_RESTART is set");
        return;
    }
    let version = cluster_version();
    let mut c = Cluster::new().await;
    // Declared after the cluster: dropped first, so the test database can be dropped.
    let _postgres_up = PostgresUp {
        version: version.clone(),
    };

    let mut yaml = String::from("project: t\nname: chain10\ntasks:\n");
    for i in 0..10 {
        let dep = format!("t{}", i.max(1) - 1);
        let deps: Vec<&str> = if i == 0 { vec![] } else { vec![dep.as_str()] };
        yaml.push_str(&shell_task(&format!("t{i}"), &deps, "sleep 0.5"));
    }
    c.apply(&yaml).await;
    c.start("m", "master,api", &[]);
    c.start("w", "worker", &[]);
    c.registered("m").await;
    c.registered("w").await;
    let id = c.run("t/chain10").await;

    let deadline = Deadline::new(Duration::from_secs(30), "3 tasks to succeed");
    loop {
        let done = c
            .tasks(id)
            .await
            .iter()
            .filter(|t| t.state == "succeeded")
            .count();
        if done >= 3 {
            assert!(done < 10, "the chain finished before the restart");
            break;
        }
        deadline.tick(done).await;
    }
    // Where the api role listens (it prints the address on stdout, kept in its log).
    let addr = c
        .server("m")
        .log_text()
        .lines()
        .find_map(|l| {
            l.split("pgdag api listening on http://")
                .nth(1)
                .map(str::to_string)
        })
        .expect("the api role printed its address");
    let health = |addr: String| async move {
        match reqwest::get(format!("http://{addr}/readyz")).await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    };
    assert_eq!(health(addr.clone()).await, 200);

    // The restart, as a stop and a start, so that the API can be asked while Postgres is away.
    let restart = Instant::now();
    assert!(
        pg_ctl(&version, "stop"),
        "pg_ctlcluster {version} main stop failed"
    );
    let while_down = health(addr.clone()).await;
    assert!(
        pg_ctl(&version, "start"),
        "pg_ctlcluster {version} main start failed"
    );
    println!("Postgres {version} restarted in {:?}", restart.elapsed());
    assert_eq!(
        while_down, 503,
        "the API answers 503 while the database is away"
    );
    // ... and recovers by itself.
    let deadline = Deadline::new(Duration::from_secs(30), "/readyz to answer 200 again");
    loop {
        let status = health(addr.clone()).await;
        if status == 200 {
            break;
        }
        deadline.tick(status).await;
    }

    let state = c.wait_final(id, Duration::from_secs(90)).await;
    let tasks = c.tasks(id).await;
    println!(
        "attempts: {:?}",
        tasks
            .iter()
            .map(|t| (t.name.as_str(), t.attempt))
            .collect::<Vec<_>>()
    );
    assert_eq!(state, "succeeded", "{tasks:#?}");
    assert!(tasks.iter().all(|t| t.state == "succeeded"), "{tasks:#?}");
    for name in ["m", "w"] {
        assert!(
            c.server(name).try_wait().is_none(),
            "{name} exited when Postgres restarted"
        );
    }
    let audit = summarize(&c.transitions().await);
    assert!(audit.violations.is_empty(), "{:#?}", audit.violations);
}
