//! In-process tasks and idle cost (bench/README.md, parts 6 and 7):
//!
//! - `sql` tasks `select 1` on a Postgres datasource (the bench database itself), `n` in
//!   one instance, against the standalone started by main: tasks/s over the instance's
//!   wall time, printed beside the raw queue cycle of the same run.
//! - Idle transactions per minute of a process, counted by `pg_stat_database`
//!   (`xact_commit + xact_rollback` of the bench database, read from the admin database so
//!   that the reading itself is not counted) over a window, after the process settled.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgdag::store::{Store, definitions};

/// Wall time of one instance of `n` `sql` tasks `select 1`, and its tasks/s.
pub async fn sql_tasks(store: &Store, url: &str, n: usize) -> (f64, f64) {
    let mut yaml = format!(
        "kind: datasource\nproject: bench\nname: self\ntype: postgres\nurl: {url}\nallow_scheduler_database: true\n---\nproject: bench\nname: sqlfan\ntasks:\n"
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{ name: q{i}, type: sql, datasource: self, sql: select 1 }}\n"
        ));
    }
    let checked = pgdag::apply::check_documents("bench.yaml", &yaml).expect("bench YAML is valid");
    let mut client = store.client().await.unwrap();
    definitions::apply_documents(
        &mut client,
        "sql:bench",
        &checked.workflows,
        &[],
        &checked.sealed_datasources(None).expect("no password"),
        &[],
        &[],
        &[],
        &Default::default(),
    )
    .await
    .unwrap();
    drop(client);
    let detail = super::run_and_wait(store, "sqlfan").await;
    let wall =
        (detail.ended_at.unwrap() - detail.started_at.unwrap()).num_milliseconds() as f64 / 1000.0;
    (wall, n as f64 / wall)
}

/// Transactions of database `db` so far, as the statistics have them.
async fn transactions(admin: &tokio_postgres::Client, db: &str) -> i64 {
    admin
        .batch_execute("select pg_stat_clear_snapshot()")
        .await
        .unwrap();
    admin
        .query_one(
            "select (xact_commit + xact_rollback)::bigint from pg_stat_database where datname = $1",
            &[&db],
        )
        .await
        .unwrap()
        .get(0)
}

/// Transactions per minute on `db` over `window`, after `settle` (start-up work done and
/// its counts flushed: an idle backend reports its statistics within 10 s).
pub async fn idle_per_minute(admin_url: &str, db: &str, settle: Duration, window: Duration) -> f64 {
    let (admin, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    tokio::time::sleep(settle).await;
    let before = transactions(&admin, db).await;
    tokio::time::sleep(window).await;
    let after = transactions(&admin, db).await;
    (after - before) as f64 * 60.0 / window.as_secs_f64()
}

/// The idle transactions per minute of a `pgdag server --roles worker` alone on `url`.
pub async fn idle_worker(
    exe: &std::path::Path,
    url: &str,
    admin_url: &str,
    db: &str,
    window: Duration,
) -> f64 {
    let mut child = Command::new(exe)
        .args(["server", "--roles", "worker"])
        .env("PGDAG_DATABASE_URL", url)
        .env("PGDAG_METRICS_ADDR", "off")
        .env("PGDAG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a worker");
    let started = Instant::now();
    let rate = idle_per_minute(admin_url, db, Duration::from_secs(15), window).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    eprintln!(
        "idle worker measured in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    rate
}
