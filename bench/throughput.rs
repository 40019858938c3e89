//! In-process tasks and idle cost (bench/README.md, parts 6 and 7):
//!
//! - `sql` tasks `select 1` on a Postgres datasource (the bench database itself), `n` in
//!   one instance, against the standalone started by main: tasks/s over the instance's
//!   wall time, printed beside the raw queue cycle of the same run. The datasource link is
//!   plain (`sslmode=disable`), as the raw cycle's and the store's own are; the same
//!   workflow over TLS (`sslmode=require`) is measured beside it.
//! - Idle transactions per minute of a process, counted by `pg_stat_database`
//!   (`xact_commit + xact_rollback` of the bench database, read from the admin database so
//!   that the reading itself is not counted) over a window, after the process settled.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgdag::store::{Store, definitions};

/// Instances of the `sql` measure after the first: the median of their walls is the
/// measure of a running worker.
pub const SQL_WARM_RUNS: usize = 3;

/// The `sql` measure's workflows: `sqlfan` on a plain link, `sqlfan_tls` over TLS.
pub const SQL_WORKFLOWS: [&str; 2] = ["sqlfan", "sqlfan_tls"];

/// Applies the workflows of `n` `sql` tasks `select 1` on this database, one on a plain
/// link (datasource `self`, `sslmode=disable`: the link the raw queue cycle and the store
/// use, so that the ratio compares the scheduler's work with the queue's, not TLS with
/// plain text) and one over TLS (datasource `tls`, `sslmode=require`), and runs the first
/// instance of each, which opens the worker's pool to the datasource and prepares and
/// plans at first use: reported on its own line, as the first chain is. The first plain
/// instance's (wall, tasks/s); [`sql_wall`] runs the warm ones.
pub async fn sql_setup(store: &Store, url: &str, n: usize) -> (f64, f64) {
    let mut yaml = String::new();
    for ((datasource, mode), workflow) in [("self", "disable"), ("tls", "require")]
        .into_iter()
        .zip(SQL_WORKFLOWS)
    {
        let separator = if url.contains('?') { '&' } else { '?' };
        yaml.push_str(&format!(
            "---\nkind: datasource\nproject: bench\nname: {datasource}\ntype: postgres\nurl: {url}{separator}sslmode={mode}\nallow_scheduler_database: true\n---\nproject: bench\nname: {workflow}\ntasks:\n"
        ));
        for i in 0..n {
            yaml.push_str(&format!(
                "  - {{ name: q{i}, type: sql, datasource: {datasource}, sql: select 1 }}\n"
            ));
        }
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
    let first = sql_wall(store, SQL_WORKFLOWS[0]).await;
    sql_wall(store, SQL_WORKFLOWS[1]).await;
    (first, n as f64 / first)
}

/// The wall of one instance of `workflow`, one of [`SQL_WORKFLOWS`], in seconds.
pub async fn sql_wall(store: &Store, workflow: &str) -> f64 {
    super::wall_seconds(&super::run_and_wait(store, workflow).await)
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

/// Claim rate of pgdag's own claim statement (`store::queue::claim`, as a worker calls it)
/// with `deep` attempts queued, against the rate with 1,000 queued: the attempts claimed per
/// second over `CLAIMED` attempts, `BATCH` per claim (a worker's process claim with 4
/// slots and the default prefetch), one client. The rows are written by SQL (task
/// instances copied from a finished one, in a worker group of their own), so nothing else
/// claims them; run when no pgdag process is up (a leader would fail the claims over).
/// Returns (rate at 1,000, rate at `deep`, seconds spent filling the deep queue).
pub async fn backlog(store: &Store, deep: usize) -> (f64, f64, f64) {
    let shallow_rate = claim_rate(store, 1_000, 1_000).await.0;
    let (deep_rate, fill) = claim_rate(store, deep, deep).await;
    (shallow_rate, deep_rate, fill)
}

/// Attempts claimed per claim, and claimed per measure.
const BATCH: i64 = 12;
const CLAIMED: usize = 3_000;

/// Fill the `backlog` group to `depth` attempts, claim `CLAIMED` (refilling with `refill`
/// attempts whenever it runs dry), then empty it. (claims/s, fill seconds).
async fn claim_rate(store: &Store, depth: usize, refill: usize) -> (f64, f64) {
    let client = store.client().await.unwrap();
    let fill_started = Instant::now();
    fill(&client, depth as i64).await;
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let groups = vec!["backlog".to_string()];
    let (mut claimed, mut spent) = (0usize, Duration::ZERO);
    while claimed < CLAIMED {
        let started = Instant::now();
        let got = pgdag::store::queue::claim(&client, &groups, BATCH, 0, "bench", 0)
            .await
            .unwrap()
            .len();
        spent += started.elapsed();
        claimed += got;
        if (got as i64) < BATCH {
            fill(&client, refill as i64).await;
        }
    }
    client
        .batch_execute(
            "delete from pgdag.task_queue where worker_group = 'backlog';
             delete from pgdag.task_instance where worker_group = 'backlog';",
        )
        .await
        .unwrap();
    // Not in the batch above: a multi-statement batch is one transaction, VACUUM refuses it.
    client
        .batch_execute("vacuum analyze pgdag.task_queue")
        .await
        .unwrap();
    (claimed as f64 / spent.as_secs_f64(), fill_secs)
}

/// `n` queued attempts in the `backlog` group, one per new task instance (copies of the
/// first task instance of the database, in one instance), with their queue rows.
async fn fill(client: &deadpool_postgres::Object, n: i64) {
    client
        .execute(
            "with made as (
                 insert into pgdag.task_instance
                     (workflow_instance_id, task_code, task_version, name, task_type, state,
                      worker_group, payload, queued_at, attempt)
                 select t.workflow_instance_id, t.task_code, t.task_version, 'b' || g, 'shell',
                        'queued', 'backlog', '{}'::jsonb, now(), 1
                 from (select * from pgdag.task_instance order by id limit 1) t,
                      generate_series(1, $1::bigint) g
                 returning id, workflow_instance_id, priority
             )
             insert into pgdag.task_queue
                 (task_instance_id, workflow_instance_id, workflow_priority, task_priority,
                  worker_group, in_process)
             select id, workflow_instance_id, 2, priority, 'backlog', false from made",
            &[&n],
        )
        .await
        .unwrap();
    // The maintenance a million inserts start (autovacuum of both tables, a checkpoint's
    // full-page writes) is done before the claims, not during them: the measure is the
    // claim's own cost at this depth. Each statement alone: VACUUM refuses a batch.
    for statement in [
        "vacuum analyze pgdag.task_queue",
        "vacuum analyze pgdag.task_instance",
        "checkpoint",
    ] {
        client.batch_execute(statement).await.unwrap();
    }
}
