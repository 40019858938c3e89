//! PgBouncer for real: a cluster whose pools go through Debian's `pgbouncer` (1.18, no
//! protocol-level prepared statements) in transaction mode, in `PGDAG_POLL_ONLY` mode, with
//! `PGDAG_SESSION_DATABASE_URL` direct to Postgres. A named statement prepared in one
//! transaction is not there in the next one (another server connection may serve it), so
//! this runs only because pooled connections use unnamed statements in that mode.
//!
//! Skipped, saying why, when the `pgbouncer` binary is missing; `PGDAG_REQUIRE_PGBOUNCER=1`
//! (CI) makes that a failure.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{ChildGuard, pgdag};
use crate::support::*;

const PGBOUNCER_PATHS: [&str; 2] = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"];

fn pgbouncer_binary() -> Option<PathBuf> {
    PGBOUNCER_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A pgbouncer in transaction mode on a free port in front of the test Postgres, with its
/// own ini and userlist in a temp dir; killed when dropped.
struct Bouncer {
    _process: ChildGuard,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Bouncer {
    fn start(binary: &PathBuf) -> Bouncer {
        let dir = tempfile::tempdir().unwrap();
        // Started as root, pgbouncer must drop to another user (-u), who reads these files.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let userlist = dir.path().join("userlist.txt");
        std::fs::write(&userlist, "\"postgres\" \"\"\n").unwrap();
        let ini = dir.path().join("pgbouncer.ini");
        // A small server pool shared by many clients, so that consecutive transactions of
        // one client land on different server connections.
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port=5432\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {}\npool_mode = transaction\n\
                 default_pool_size = 4\nmax_client_conn = 500\n\
                 ignore_startup_parameters = extra_float_digits\n",
                userlist.display()
            ),
        )
        .unwrap();
        for file in [&userlist, &ini] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let log = dir.path().join("pgbouncer.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(binary);
        if nix::unistd::geteuid().is_root() {
            command.args(["-u", "postgres"]);
        }
        command
            .arg(&ini)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let process = ChildGuard(command.spawn().expect("start pgbouncer"));
        let bouncer = Bouncer {
            _process: process,
            port,
            log,
            _dir: dir,
        };
        let started = std::time::Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "pgbouncer does not listen on {port}: {}",
                bouncer.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A master and two workers through PgBouncer in transaction mode: `pgdag migrate` (on the
/// session URL), a task that succeeds on its retry, a kill -9 of the worker running a task
/// (run again on the other worker) and a cron fire, every instance succeeding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_runs_retries_a_failover_and_cron_through_pgbouncer_in_transaction_mode() {
    let Some(binary) = pgbouncer_binary() else {
        assert!(
            std::env::var_os("PGDAG_REQUIRE_PGBOUNCER").is_none(),
            "PGDAG_REQUIRE_PGBOUNCER is set but pgbouncer is missing"
        );
        eprintln!("skipped: no pgbouncer binary (apt-get install pgbouncer)");
        return;
    };
    let mut c = Cluster::new().await;
    let bouncer = Bouncer::start(&binary);
    let database = c.db.name.clone();
    let pooled = bouncer.url(&database);
    c.set_common_env("PGDAG_DATABASE_URL", &pooled);
    let direct = c.db.url.clone();
    c.set_common_env("PGDAG_SESSION_DATABASE_URL", &direct);
    c.set_common_env("PGDAG_POLL_ONLY", "1");

    // `pgdag migrate` takes its lock and runs refinery on the session URL.
    let migrate = pgdag(&c.db)
        .arg("migrate")
        .env("PGDAG_DATABASE_URL", &pooled)
        .env("PGDAG_SESSION_DATABASE_URL", &c.db.url)
        .env("PGDAG_POLL_ONLY", "1")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "pgdag migrate through pgbouncer: {}{}",
        String::from_utf8_lossy(&migrate.stdout),
        String::from_utf8_lossy(&migrate.stderr)
    );

    let marker = c.path("flaky-failed-once");
    let done = c.path("long-done");
    c.apply(&format!(
        "project: t\nname: flaky\ntasks:\n  - name: f\n    type: shell\n    retries: 2\n    script: |\n      \
         if [ -e {m} ]; then echo second; else touch {m}; exit 1; fi\n",
        m = marker.display()
    ))
    .await;
    c.apply(&format!(
        "project: t\nname: long\ntasks:\n{}",
        shell_task(
            "work",
            &[],
            &format!("sleep 5\necho done >> {}", done.display())
        )
    ))
    .await;

    c.start("m", "master", &[]);
    c.leader(secs(20)).await;
    c.start("w1", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    c.start("w2", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    c.registered("w1").await;
    c.registered("w2").await;

    // Retries: the first attempt fails, the second succeeds.
    let id = c.run("t/flaky").await;
    let state = c.wait_final(id, secs(30)).await;
    let task = c.task(id, "f").await.unwrap();
    if state != "succeeded" {
        c.dump_logs();
    }
    assert_eq!(state, "succeeded", "{task:?}\n{}", bouncer.log_text());
    assert_eq!(task.attempt, 2, "{task:?}");

    // Failover: kill -9 the worker running `work` once the leader has led for dead_after
    // (a younger leader judges by heartbeats only, see tests/cluster.rs).
    let deadline = Deadline::new(secs(30), "the leader to have led for dead_after");
    loop {
        let led: f64 = c
            .pg
            .one(
                "select coalesce(extract(epoch from now() - elected_at), 0)::float8 from pgdag.leader_term",
                &[],
            )
            .await
            .get(0);
        if led > DEAD_AFTER_SECS + 0.5 {
            break;
        }
        deadline.tick(format!("led for {led:.1} s")).await;
    }
    let id = c.run("t/long").await;
    let first = c
        .wait_task(id, "work", secs(20), "attempt 1 running", |t| {
            t.state == "running"
        })
        .await;
    let victim = first.host.clone().expect("a running task has a host");
    c.server(&victim).kill9();
    let second = c
        .wait_task(id, "work", secs(30), "attempt 2 on the other worker", |t| {
            t.attempt >= 2 && t.host.as_deref().is_some_and(|h| h != victim)
        })
        .await;
    assert_ne!(second.host, first.host, "{second:?}");
    let state = c.wait_final(id, secs(30)).await;
    if state != "succeeded" {
        c.dump_logs();
    }
    assert_eq!(state, "succeeded");

    // A cron fire: an instance started by the schedule, and run to success.
    c.apply(
        "project: t\nname: tick\nschedule: { cron: \"* * * * * ?\" }\ntasks:\n  - { name: t, type: shell, script: 'true' }\n",
    )
    .await;
    let deadline = Deadline::new(secs(30), "a scheduled instance to succeed");
    loop {
        let n: i64 =
            c.pg.one(
                "select count(*) from pgdag.workflow_instance_v
                 where command_type = 'schedule' and state = 'succeeded'",
                &[],
            )
            .await
            .get(0);
        if n >= 1 {
            break;
        }
        deadline.tick(n).await;
    }

    // The pools did go through pgbouncer: it logged the processes' logins.
    let log = bouncer.log_text();
    let logins = log.matches("login attempt").count();
    assert!(logins >= 3, "pgbouncer saw {logins} logins:\n{log}");
    for server in &c.servers {
        let text = server.log_text();
        assert!(
            !text.contains("prepared statement"),
            "{}: a prepared statement failed behind pgbouncer:\n{text}",
            server.name()
        );
    }
}
