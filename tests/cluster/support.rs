//! Support for the process-level cluster tests (`tests/cluster.rs`, `tests/chaos.rs`,
//! `tests/pg_restart.rs`): real `pgdag server` processes whose output goes to files (printed
//! when a test fails), real signals, bounded polling, a database connection that survives a
//! Postgres restart, and an audit trail of task instance transitions recorded by a trigger
//! in the test's own database.
//!
//! Included by each test binary with `#[path = "cluster/support.rs"] mod support;` next to
//! `#[path = "it/harness.rs"] mod harness;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::harness::{TestDb, pgdag};

/// The protocol timings every test process runs with (the issue's numbers).
pub const HEARTBEAT_INTERVAL: &str = "500ms";
pub const DEAD_AFTER: &str = "4s";
pub const DEAD_AFTER_SECS: f64 = 4.0;
pub const LEADER_RETRY: &str = "1s";
pub const LEADER_RETRY_SECS: f64 = 1.0;

/// Task instance states after which nothing may change.
pub const FINAL_TASK_STATES: [&str; 5] =
    ["succeeded", "failed", "skipped", "killed", "forced_success"];

// ---------------------------------------------------------------------------------------
// A database connection that reconnects after errors (Postgres may restart under it).
// ---------------------------------------------------------------------------------------

pub struct Pg {
    url: String,
    client: Option<tokio_postgres::Client>,
}

impl Pg {
    pub fn new(url: &str) -> Pg {
        Pg {
            url: url.to_string(),
            client: None,
        }
    }

    pub async fn try_query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.client = Some(client);
        }
        let result = self.client.as_ref().unwrap().query(sql, params).await;
        if result.is_err() {
            self.client = None;
        }
        result
    }

    pub async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<Row> {
        self.try_query(sql, params)
            .await
            .unwrap_or_else(|e| panic!("query failed: {sql}: {e:?}"))
    }

    pub async fn one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Row {
        let mut rows = self.query(sql, params).await;
        assert_eq!(rows.len(), 1, "expected one row from {sql}");
        rows.remove(0)
    }

    pub async fn batch(&mut self, sql: &str) {
        self.query("select 1", &[]).await; // connect
        self.client
            .as_ref()
            .unwrap()
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("batch failed: {e:?}\n{sql}"));
    }

    /// The database clock, seconds since the epoch.
    pub async fn now(&mut self) -> f64 {
        self.one("select extract(epoch from clock_timestamp())::float8", &[])
            .await
            .get(0)
    }
}

// ---------------------------------------------------------------------------------------
// Bounded waits.
// ---------------------------------------------------------------------------------------

pub struct Deadline {
    start: Instant,
    limit: Duration,
    what: String,
}

impl Deadline {
    pub fn new(limit: Duration, what: impl Into<String>) -> Deadline {
        Deadline {
            start: Instant::now(),
            limit,
            what: what.into(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn expired(&self) -> bool {
        self.start.elapsed() >= self.limit
    }

    /// Sleep one poll interval (50 ms); panic, saying what was awaited, once the limit passed.
    pub async fn tick(&self, last_seen: impl std::fmt::Debug) {
        assert!(
            !self.expired(),
            "timed out after {:?} waiting for {}; last seen: {last_seen:?}",
            self.limit,
            self.what
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Server processes.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub name: String,
    pub roles: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub struct Server {
    pub spec: ServerSpec,
    pub incarnation: u32,
    pub log: PathBuf,
    child: Child,
    exited: Option<ExitStatus>,
}

impl Server {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal)
            .unwrap_or_else(|e| panic!("{signal} to {} ({}): {e}", self.spec.name, self.pid()));
    }

    /// `kill -9`, and reap it. Its task processes are left alone (orphans are the point).
    pub fn kill9(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        self.exited = Some(self.child.wait().expect("wait for killed server"));
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Deadline::new(limit, format!("{} to exit", self.spec.name));
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            deadline.tick("still running").await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        // Kill the task process groups too, so a failed test leaves no `sleep` behind.
        let groups = child_groups(self.pid());
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pgid in groups {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Process groups, read from /proc (a zombie counts as gone: nobody may reap orphans here).
// ---------------------------------------------------------------------------------------

/// (pid, state, ppid, pgrp) of every process.
fn processes() -> Vec<(i32, char, i32, i32)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        let state = fields[0].chars().next().unwrap_or('?');
        let ppid = fields[1].parse().unwrap_or(0);
        let pgrp = fields[2].parse().unwrap_or(0);
        out.push((pid, state, ppid, pgrp));
    }
    out
}

/// Whether any live (not zombie) process is in this process group.
pub fn group_alive(pgid: i32) -> bool {
    processes()
        .iter()
        .any(|&(_, state, _, pgrp)| pgrp == pgid && state != 'Z' && state != 'X')
}

/// The process groups of `pid`'s children that are not `pid`'s own group.
fn child_groups(pid: i32) -> Vec<i32> {
    let all = processes();
    let own = all.iter().find(|p| p.0 == pid).map(|p| p.3).unwrap_or(pid);
    let mut groups: Vec<i32> = all
        .iter()
        .filter(|p| p.2 == pid && p.3 != own && p.3 > 1)
        .map(|p| p.3)
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// Kills a process group when dropped (for tasks a test deliberately orphans).
pub struct GroupGuard(pub i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0 > 1 {
            let _ = killpg(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rows the tests read.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: i64,
    pub name: String,
    pub state: String,
    pub attempt: i32,
    pub host: Option<String>,
    pub server_id: Option<i64>,
    pub dispatched_at: Option<f64>,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    pub exit_code: Option<i32>,
    pub claim_token: Option<String>,
}

const TASK_COLUMNS: &str = "id, name, state, attempt, host, server_id, \
    extract(epoch from dispatched_at)::float8, extract(epoch from started_at)::float8, \
    extract(epoch from ended_at)::float8, exit_code, claim_token::text";

fn task_row(r: &Row) -> TaskRow {
    TaskRow {
        id: r.get(0),
        name: r.get(1),
        state: r.get(2),
        attempt: r.get(3),
        host: r.get(4),
        server_id: r.get(5),
        dispatched_at: r.get(6),
        started_at: r.get(7),
        ended_at: r.get(8),
        exit_code: r.get(9),
        claim_token: r.get(10),
    }
}

/// One UPDATE of a task instance row, as the audit trigger saw it.
#[derive(Debug, Clone)]
pub struct Transition {
    pub seq: i64,
    pub id: i64,
    pub old_state: String,
    pub new_state: String,
    pub old_attempt: i32,
    pub new_attempt: i32,
    pub host: Option<String>,
    pub server_id: Option<i64>,
}

/// What the audit trail says about each task instance.
#[derive(Debug, Default)]
pub struct AuditSummary {
    /// Per task instance: the attempt numbers it was dispatched with, in order.
    pub dispatches: BTreeMap<i64, Vec<i32>>,
    /// Per task instance: the attempts whose success was accepted (a transition into
    /// `succeeded`).
    pub successes: BTreeMap<i64, Vec<i32>>,
    /// Protocol violations found.
    pub violations: Vec<String>,
}

impl AuditSummary {
    pub fn redispatches(&self) -> usize {
        self.dispatches
            .values()
            .map(|d| d.len().saturating_sub(1))
            .sum()
    }
}

/// Check the transitions of task instances (all of them, in `seq` order):
/// - a task's success is accepted at most once, and nothing about its state, attempt or host
///   changes once it is final;
/// - the attempt never goes down, and each dispatch carries the next attempt number (1, 2, ...).
pub fn summarize(transitions: &[Transition]) -> AuditSummary {
    let mut summary = AuditSummary::default();
    let mut final_at: BTreeMap<i64, (i64, String, i32, Option<String>)> = BTreeMap::new();
    for t in transitions {
        if t.new_attempt < t.old_attempt {
            summary.violations.push(format!(
                "task instance {}: attempt went down {} -> {} ({} -> {})",
                t.id, t.old_attempt, t.new_attempt, t.old_state, t.new_state
            ));
        }
        if let Some((seq, state, attempt, host)) = final_at.get(&t.id)
            && (t.new_state != *state || t.new_attempt != *attempt || t.host != *host)
        {
            summary.violations.push(format!(
                    "task instance {}: changed after it was final at audit #{seq} ({state}, attempt {attempt}, {host:?}): now {} attempt {} on {:?} (audit #{})",
                    t.id, t.new_state, t.new_attempt, t.host, t.seq
                ));
        }
        if t.new_state == "dispatched" && t.old_state != "dispatched" {
            summary
                .dispatches
                .entry(t.id)
                .or_default()
                .push(t.new_attempt);
        }
        if t.new_state == "succeeded" && t.old_state != "succeeded" {
            summary
                .successes
                .entry(t.id)
                .or_default()
                .push(t.new_attempt);
        }
        if FINAL_TASK_STATES.contains(&t.new_state.as_str()) && !final_at.contains_key(&t.id) {
            final_at.insert(
                t.id,
                (t.seq, t.new_state.clone(), t.new_attempt, t.host.clone()),
            );
        }
    }
    for (id, attempts) in &summary.successes {
        if attempts.len() > 1 {
            summary.violations.push(format!(
                "task instance {id}: success accepted {} times (attempts {attempts:?})",
                attempts.len()
            ));
        }
    }
    for (id, attempts) in &summary.dispatches {
        let expected: Vec<i32> = (1..=attempts.len() as i32).collect();
        if *attempts != expected {
            summary.violations.push(format!(
                "task instance {id}: dispatched with attempts {attempts:?}, expected {expected:?}"
            ));
        }
    }
    summary
}

// ---------------------------------------------------------------------------------------
// A test cluster: one database, a temp dir for files and logs, server processes.
// ---------------------------------------------------------------------------------------

pub struct Cluster {
    // Field order is drop order: processes first, then the database, then the files.
    pub servers: Vec<Server>,
    pub pg: Pg,
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    /// Every server log file ever written, printed when the test fails.
    logs: Vec<PathBuf>,
    /// Environment for every server started from now on (a server's own env wins).
    pub common_env: Vec<(String, String)>,
}

impl Cluster {
    pub async fn new() -> Cluster {
        let db = TestDb::new().await;
        let mut pg = Pg::new(&db.url);
        install_audit(&mut pg).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        Cluster {
            servers: Vec::new(),
            pg,
            db,
            dir,
            logs: Vec::new(),
            common_env: vec![
                ("PGDAG_HEARTBEAT_INTERVAL".into(), HEARTBEAT_INTERVAL.into()),
                ("PGDAG_DEAD_AFTER".into(), DEAD_AFTER.into()),
                ("PGDAG_LEADER_RETRY".into(), LEADER_RETRY.into()),
                ("PGDAG_POLL_INTERVAL".into(), "200ms".into()),
                ("PGDAG_MAX_TASKS".into(), "2".into()),
            ],
        }
    }

    /// A path inside the test's temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn set_common_env(&mut self, key: &str, value: &str) {
        self.common_env.retain(|(k, _)| k != key);
        self.common_env.push((key.into(), value.into()));
    }

    /// Start `pgdag server --roles ROLES` named `name`, with its own state dir
    /// (`<tmp>/state/<name>`, the same for every incarnation of that name).
    pub fn start(&mut self, name: &str, roles: &str, env: &[(&str, &str)]) -> i32 {
        self.start_with_args(name, roles, &[], env)
    }

    pub fn start_with_args(
        &mut self,
        name: &str,
        roles: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> i32 {
        assert!(
            self.servers.iter().all(|s| s.spec.name != name),
            "a server named {name} is already managed"
        );
        let state_dir = self.path("state").join(name);
        std::fs::create_dir_all(&state_dir).unwrap();
        let mut all_env = self.common_env.clone();
        all_env.push(("PGDAG_SERVER_NAME".into(), name.into()));
        all_env.push((
            "PGDAG_STATE_DIR".into(),
            state_dir.to_string_lossy().into_owned(),
        ));
        for (k, v) in env {
            all_env.push(((*k).into(), (*v).into()));
        }
        let spec = ServerSpec {
            name: name.into(),
            roles: roles.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: all_env,
        };
        let server = self.spawn(spec, 1);
        let pid = server.pid();
        self.servers.push(server);
        pid
    }

    fn spawn(&mut self, spec: ServerSpec, incarnation: u32) -> Server {
        let log = self
            .path("logs")
            .join(format!("{}.{incarnation}.log", spec.name));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut command = pgdag(&self.db);
        command
            .args(["server", "--roles", &spec.roles])
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = command.spawn().expect("spawn pgdag server");
        self.logs.push(log.clone());
        Server {
            spec,
            incarnation,
            log,
            child,
            exited: None,
        }
    }

    pub fn server(&mut self, name: &str) -> &mut Server {
        self.servers
            .iter_mut()
            .find(|s| s.spec.name == name)
            .unwrap_or_else(|| panic!("no server named {name}"))
    }

    /// Start a new incarnation of `name` (same roles, env and state dir); the old process, if
    /// still running, is killed first.
    pub fn restart(&mut self, name: &str) -> i32 {
        let index = self
            .servers
            .iter()
            .position(|s| s.spec.name == name)
            .unwrap_or_else(|| panic!("no server named {name}"));
        let (spec, incarnation) = {
            let old = &mut self.servers[index];
            old.kill9();
            (old.spec.clone(), old.incarnation + 1)
        };
        let server = self.spawn(spec, incarnation);
        let pid = server.pid();
        self.servers[index] = server;
        pid
    }

    /// Wait until the current process named `name` has registered; its server id.
    pub async fn registered(&mut self, name: &str) -> i64 {
        let pid = self.server(name).pid();
        let deadline = Deadline::new(
            Duration::from_secs(20),
            format!("server {name} (pid {pid}) to register"),
        );
        loop {
            if let Some(status) = self.server(name).try_wait() {
                panic!("server {name} exited with {status} before registering");
            }
            if let Ok(rows) = self
                .pg
                .try_query(
                    "select id from pgdag.server where name = $1 and pid = $2 order by id desc limit 1",
                    &[&name, &pid],
                )
                .await
                && let Some(row) = rows.first()
            {
                return row.get(0);
            }
            deadline.tick("no row").await;
        }
    }

    /// Wait until a master holds the leader term; (term, server id).
    pub async fn leader(&mut self, limit: Duration) -> (i64, i64) {
        let deadline = Deadline::new(limit, "a leader to be elected");
        loop {
            let seen = self.leader_term().await;
            if let Some((term, Some(server))) = seen {
                return (term, server);
            }
            deadline.tick(seen).await;
        }
    }

    pub async fn leader_term(&mut self) -> Option<(i64, Option<i64>)> {
        let rows = self
            .pg
            .try_query("select term, server_id from pgdag.leader_term", &[])
            .await
            .ok()?;
        rows.first().map(|r| (r.get(0), r.get(1)))
    }

    pub async fn server_name(&mut self, server_id: i64) -> String {
        self.pg
            .one("select name from pgdag.server where id = $1", &[&server_id])
            .await
            .get(0)
    }

    pub async fn apply(&mut self, yaml: &str) {
        let store = self.db.store();
        crate::harness::apply(&store, yaml).await;
        store.pool.close();
    }

    /// Start an instance of PROJECT/WORKFLOW (through the SQL API); its id.
    pub async fn run(&mut self, target: &str) -> i64 {
        let (project, workflow) = target.split_once('/').unwrap();
        self.pg
            .one(
                "select pgdag.start_workflow($1, $2, '{}'::jsonb)",
                &[&project, &workflow],
            )
            .await
            .get(0)
    }

    pub async fn task(&mut self, instance: i64, name: &str) -> Option<TaskRow> {
        let sql = format!(
            "select {TASK_COLUMNS} from pgdag.task_instance where workflow_instance_id = $1 and name = $2"
        );
        let rows = self.pg.try_query(&sql, &[&instance, &name]).await.ok()?;
        rows.first().map(task_row)
    }

    pub async fn tasks(&mut self, instance: i64) -> Vec<TaskRow> {
        let sql = format!(
            "select {TASK_COLUMNS} from pgdag.task_instance where workflow_instance_id = $1 order by id"
        );
        self.pg
            .query(&sql, &[&instance])
            .await
            .iter()
            .map(task_row)
            .collect()
    }

    pub async fn all_tasks(&mut self) -> Vec<TaskRow> {
        let sql = format!("select {TASK_COLUMNS} from pgdag.task_instance order by id");
        self.pg
            .query(&sql, &[])
            .await
            .iter()
            .map(task_row)
            .collect()
    }

    /// Poll a task instance until `pred` holds; the row that satisfied it.
    pub async fn wait_task(
        &mut self,
        instance: i64,
        name: &str,
        limit: Duration,
        what: &str,
        pred: impl Fn(&TaskRow) -> bool,
    ) -> TaskRow {
        let deadline = Deadline::new(limit, format!("task {name} of instance {instance}: {what}"));
        loop {
            let row = self.task(instance, name).await;
            if let Some(row) = &row
                && pred(row)
            {
                return row.clone();
            }
            deadline.tick(row).await;
        }
    }

    pub async fn instance_state(&mut self, instance: i64) -> Option<String> {
        let rows = self
            .pg
            .try_query(
                "select state from pgdag.workflow_instance_v where id = $1",
                &[&instance],
            )
            .await
            .ok()?;
        rows.first().map(|r| r.get(0))
    }

    /// Poll until the instance is final; its state. Tolerates database errors meanwhile.
    pub async fn wait_final(&mut self, instance: i64, limit: Duration) -> String {
        let deadline = Deadline::new(limit, format!("instance {instance} to finish"));
        loop {
            let state = self.instance_state(instance).await;
            if let Some(s) = &state
                && ["succeeded", "failed", "stopped", "paused"].contains(&s.as_str())
            {
                return s.clone();
            }
            deadline.tick(state).await;
        }
    }

    /// `pgdag servers --json`, parsed.
    pub fn servers_json(&self) -> serde_json::Value {
        let out = pgdag(&self.db)
            .args(["servers", "--json"])
            .output()
            .expect("run pgdag servers");
        assert!(
            out.status.success(),
            "pgdag servers --json exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pgdag servers --json printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub async fn failover_alerts(&mut self) -> i64 {
        self.pg
            .one(
                "select count(*) from pgdag.alert where kind = 'failover'",
                &[],
            )
            .await
            .get(0)
    }

    /// Every task instance transition recorded so far, in order.
    pub async fn transitions(&mut self) -> Vec<Transition> {
        self.pg
            .query(
                "select seq, id, old_state, new_state, old_attempt, new_attempt, host, server_id \
                 from public.pgdag_test_audit order by seq",
                &[],
            )
            .await
            .iter()
            .map(|r| Transition {
                seq: r.get(0),
                id: r.get(1),
                old_state: r.get(2),
                new_state: r.get(3),
                old_attempt: r.get(4),
                new_attempt: r.get(5),
                host: r.get(6),
                server_id: r.get(7),
            })
            .collect()
    }

    /// Workflow instance states ever written for `instance` (from the audit trigger).
    pub async fn instance_states_seen(&mut self, instance: i64) -> Vec<String> {
        self.pg
            .query(
                "select new_state from public.pgdag_test_instance_audit where id = $1 order by seq",
                &[&instance],
            )
            .await
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Print the end of every server log (called when a test fails).
    pub fn dump_logs(&self) {
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(80);
            eprintln!(
                "----- {} (last {} of {} lines) -----",
                log.file_name().unwrap().to_string_lossy(),
                lines.len() - from,
                lines.len()
            );
            for line in &lines[from..] {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        // PGDAG_TEST_KEEP_LOGS=1 keeps the temp dir (server logs, side-effect files).
        if std::env::var_os("PGDAG_TEST_KEEP_LOGS").is_some() {
            eprintln!("test files kept in {}", self.dir.path().display());
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            let _ = dir.keep();
        }
    }
}

/// Record every UPDATE of `pgdag.task_instance` and every state change of
/// `pgdag.workflow_instance` in tables of the test's own database (schema `public`).
pub async fn install_audit(pg: &mut Pg) {
    pg.batch(
        r#"
        create table public.pgdag_test_audit (
            seq          bigserial primary key,
            id           bigint not null,
            old_state    text not null,
            new_state    text not null,
            old_attempt  int not null,
            new_attempt  int not null,
            host         text,
            server_id    bigint,
            at           timestamptz not null default clock_timestamp()
        );
        create function public.pgdag_test_audit_task() returns trigger language plpgsql as $$
        begin
            insert into public.pgdag_test_audit
                (id, old_state, new_state, old_attempt, new_attempt, host, server_id)
            values (new.id, old.state, new.state, old.attempt, new.attempt, new.host, new.server_id);
            return null;
        end $$;
        create trigger pgdag_test_audit after update on pgdag.task_instance
            for each row execute function public.pgdag_test_audit_task();

        create table public.pgdag_test_instance_audit (
            seq        bigserial primary key,
            id         bigint not null,
            new_state  text not null,
            at         timestamptz not null default clock_timestamp()
        );
        create function public.pgdag_test_audit_instance() returns trigger language plpgsql as $$
        begin
            insert into public.pgdag_test_instance_audit (id, new_state) values (new.id, new.state);
            return null;
        end $$;
        create trigger pgdag_test_instance_audit after insert or update of state on pgdag.workflow_instance
            for each row execute function public.pgdag_test_audit_instance();
        "#,
    )
    .await;
}

/// A YAML task entry running `script` (indented as a block scalar).
pub fn shell_task(name: &str, depends_on: &[&str], script: &str) -> String {
    let mut out = format!("  - name: {name}\n    type: shell\n");
    if !depends_on.is_empty() {
        out.push_str(&format!("    depends_on: [{}]\n", depends_on.join(", ")));
    }
    out.push_str("    script: |\n");
    for line in script.lines() {
        out.push_str("      ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Read a file of `<task instance id> <attempt>` lines.
pub fn read_effects(path: &Path) -> Vec<(i64, i32)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let id = parts.next().and_then(|p| p.parse().ok());
            let attempt = parts.next().and_then(|p| p.parse().ok());
            match (id, attempt) {
                (Some(id), Some(attempt)) => (id, attempt),
                _ => panic!("bad side-effect line {l:?} in {}", path.display()),
            }
        })
        .collect()
}
