//! Failover measurements (bench/README.md, part 5): real `pgdag server` processes, real
//! `kill -9`, and the time until the cluster has acted, observed by polling the database
//! every 10 ms.
//!
//! 1. Worker kill -> re-dispatch: one master, two workers (`PGDAG_MAX_TASKS=1`); a task
//!    `sleep 60` runs on one of them; that worker is killed; the measure ends when the task
//!    instance has `attempt = 2` and `dispatched_at` set (claimed by the other worker).
//! 2. Leader kill -> next leader's first action: two masters; the leader (from
//!    `pgdag.leader_term` and `pgdag.server.pid`) is killed; the measure ends when `term`
//!    grows.
//!
//! Every trial has a deadline and reports a failure instead of hanging. Every process this
//! module starts is owned by a guard whose Drop kills it and the process groups of the tasks
//! it ran; children also get `PR_SET_PDEATHSIG`, so they die with the bench.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use pgdag::config::{DEFAULT_DEAD_AFTER, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LEADER_RETRY};
use pgdag::model::CommandType;
use pgdag::store::{Store, commands, definitions};

const TRIALS: usize = 5;
const TRIAL_DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(10);
/// The target for the leader measure.
const LEADER_TARGET_S: f64 = 2.0;

/// What main prints: table rows and JSON fields.
pub struct Report {
    pub rows: Vec<(String, String)>,
    pub json: serde_json::Map<String, serde_json::Value>,
}

/// Protocol timings passed to every child (the bench's own `PGDAG_*` values if set, else
/// pgdag's defaults), so the printed values are the ones used.
struct Timings {
    heartbeat: pgdag::model::Duration,
    dead_after: pgdag::model::Duration,
    leader_retry: pgdag::model::Duration,
}

fn timing(var: &str, default: pgdag::model::Duration) -> pgdag::model::Duration {
    match std::env::var(var) {
        Ok(text) if !text.trim().is_empty() => {
            text.trim().parse().unwrap_or_else(|e| panic!("{var}: {e}"))
        }
        _ => default,
    }
}

struct Ctx<'a> {
    store: &'a Store,
    url: &'a str,
    exe: &'a Path,
    dir: PathBuf,
    timings: Timings,
    /// Database clock minus this host's clock, seconds (for the per-trial breakdown).
    db_offset_s: f64,
    spawned: usize,
}

pub async fn run(store: &Store, url: &str, exe: &Path) -> Report {
    let timings = Timings {
        heartbeat: timing("PGDAG_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_INTERVAL),
        dead_after: timing("PGDAG_DEAD_AFTER", DEFAULT_DEAD_AFTER),
        leader_retry: timing("PGDAG_LEADER_RETRY", DEFAULT_LEADER_RETRY),
    };
    eprintln!(
        "failover: heartbeat {}, dead_after {}, leader_retry {}, {TRIALS} trials, {}s deadline each",
        timings.heartbeat,
        timings.dead_after,
        timings.leader_retry,
        TRIAL_DEADLINE.as_secs()
    );
    let dir = std::env::temp_dir().join(format!("pgdag-bench-failover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the failover temp dir");
    let _dir_guard = DirGuard(dir.clone());
    let mut ctx = Ctx {
        store,
        url,
        exe,
        dir,
        timings,
        db_offset_s: 0.0,
        spawned: 0,
    };
    ctx.db_offset_s = db_offset(store).await;

    let dead_after_s = ctx.timings.dead_after.millis as f64 / 1000.0;
    let worker = worker_kill(&mut ctx).await;
    let leader = leader_kill(&mut ctx).await;

    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    rows.push((
        "failover timings (heartbeat / dead_after / leader_retry)".to_string(),
        format!(
            "{} / {} / {}",
            ctx.timings.heartbeat, ctx.timings.dead_after, ctx.timings.leader_retry
        ),
    ));
    json.insert(
        "failover_heartbeat_ms".into(),
        ctx.timings.heartbeat.millis.into(),
    );
    json.insert(
        "failover_dead_after_ms".into(),
        ctx.timings.dead_after.millis.into(),
    );
    json.insert(
        "failover_leader_retry_ms".into(),
        ctx.timings.leader_retry.millis.into(),
    );
    summarize(
        &mut rows,
        &mut json,
        "worker kill -9 -> re-dispatch",
        "failover_worker_redispatch",
        &worker,
        dead_after_s + 1.0,
        &format!("{} s = dead_after + 1 s", dead_after_s + 1.0),
    );
    summarize(
        &mut rows,
        &mut json,
        "leader kill -9 -> next leader's term",
        "failover_leader",
        &leader,
        LEADER_TARGET_S,
        &format!("{LEADER_TARGET_S} s"),
    );
    Report { rows, json }
}

fn summarize(
    rows: &mut Vec<(String, String)>,
    json: &mut serde_json::Map<String, serde_json::Value>,
    label: &str,
    key: &str,
    results: &[Result<f64, String>],
    target_s: f64,
    target_text: &str,
) {
    let mut samples: Vec<f64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .copied()
        .collect();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    samples.sort_by(f64::total_cmp);
    let median = crate::percentile(&samples, 50.0);
    let max = samples.last().copied().unwrap_or(f64::NAN);
    let ok = samples.len();
    let value = if ok == 0 {
        format!(
            "all {} trials failed (target <= {target_text})",
            results.len()
        )
    } else {
        format!(
            "median {median:.2} s, max {max:.2} s (target <= {target_text}){}",
            if failures.is_empty() {
                String::new()
            } else {
                format!(", {} of {} trials failed", failures.len(), results.len())
            }
        )
    };
    rows.push((format!("{label} ({ok}/{} trials)", results.len()), value));
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    json.insert(format!("{key}_s_median"), serde_json::json!(round(median)));
    json.insert(format!("{key}_s_max"), serde_json::json!(round(max)));
    json.insert(
        format!("{key}_s_samples"),
        serde_json::json!(
            results
                .iter()
                .map(|r| r.as_ref().ok().map(|x| round(*x)))
                .collect::<Vec<_>>()
        ),
    );
    json.insert(format!("{key}_target_s"), serde_json::json!(target_s));
    json.insert(
        format!("{key}_failures"),
        serde_json::json!(failures.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
    );
}

// ---------------------------------------------------------------------------------------
// 1. Worker kill -> re-dispatch
// ---------------------------------------------------------------------------------------

async fn worker_kill(ctx: &mut Ctx<'_>) -> Vec<Result<f64, String>> {
    eprintln!("failover 1/2: worker kill -9 -> re-dispatch, {TRIALS} trials");
    // One definition per trial, each in its own worker group: an attempt a failed trial
    // leaves behind can never be claimed by the next trial's workers.
    for trial in 1..=TRIALS {
        let yaml = format!(
            "project: bench\nname: failover_{trial}\ntasks:\n  - {{ name: sleeper, type: shell, script: 'sleep 60', worker_group: failover{trial} }}\n"
        );
        let specs = pgdag::apply::check_text("failover.yaml", &yaml).expect("failover YAML");
        let mut client = ctx.store.client().await.unwrap();
        definitions::apply_all(&mut client, "sql:bench", &specs)
            .await
            .unwrap();
    }
    // One master for all trials: its leadership must be older than dead_after for the
    // liveness-lock check to apply (a new leader judges by heartbeats alone for one
    // dead_after), which is the steady state this measures.
    let mut master = match ctx.spawn("master", "fo-master", None, None) {
        Ok(m) => m,
        Err(e) => return vec![Err(e); TRIALS],
    };
    let mut results = Vec::new();
    for trial in 1..=TRIALS {
        let result = worker_trial(ctx, &mut master, trial).await;
        match &result {
            Ok(s) => eprintln!("  trial {trial}: {s:.3} s"),
            Err(e) => eprintln!("  trial {trial}: FAILED: {e}"),
        }
        results.push(result);
    }
    drop(master);
    results
}

async fn worker_trial(ctx: &mut Ctx<'_>, master: &mut Proc, trial: usize) -> Result<f64, String> {
    let deadline = Instant::now() + TRIAL_DEADLINE;
    let group = format!("failover{trial}");
    // Start the workers at a random point of the leader's tick: the previous trial ended
    // right after a tick, and its fixed-length cleanup would otherwise lock every worker's
    // heartbeats to the same phase of the leader's ticks.
    tokio::time::sleep(random_delay(ctx.timings.heartbeat)).await;
    let mut workers = Vec::new();
    for name in ["w1", "w2"] {
        let state = ctx.dir.join(format!("state-{trial}-{name}"));
        workers.push(ctx.spawn("worker", name, Some(&state), Some(&group))?);
    }
    let mut client = ctx.store.client().await.map_err(|e| e.to_string())?;
    for proc in &mut workers {
        ctx.wait_registered(proc, deadline).await?;
    }
    let master_id = ctx.wait_registered_id(master, deadline).await?;

    // The master must be the leader, and have been for dead_after by the time of the kill.
    let dead_after_s = ctx.timings.dead_after.millis as f64 / 1000.0;
    loop {
        let row = client
            .query_one(
                "select server_id, coalesce(extract(epoch from clock_timestamp() - elected_at)::float8, 0)
                 from pgdag.leader_term",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let leader: Option<i64> = row.get(0);
        let age: f64 = row.get(1);
        if leader == Some(master_id) && age >= dead_after_s + 0.5 {
            break;
        }
        check(deadline, || {
            format!("the master to be leader for dead_after (leader {leader:?}, for {age:.1} s)")
        })?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (_, instance) = commands::insert(
        &client,
        "sql:bench",
        CommandType::Start,
        Some("bench"),
        Some(&format!("failover_{trial}")),
        &serde_json::json!({}),
        &serde_json::json!({}),
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    let result = measure_redispatch(ctx, &mut client, &mut workers, instance, deadline).await;

    // Clean end: ask for a stop (the surviving worker would kill the new attempt's process
    // group); where this build refuses stop commands ("not available yet"), go on at once.
    // Either way the workers and every task process group they had are then killed by
    // Drop, and what is left of the instance sits in this trial's own worker group, where
    // no later trial's worker claims it.
    let stop = commands::insert(
        &client,
        "sql:bench",
        CommandType::Stop,
        None,
        None,
        &serde_json::json!({}),
        &serde_json::json!({}),
        Some(instance),
    )
    .await
    .map(|(id, _)| id);
    let stop_deadline = Instant::now() + Duration::from_secs(15);
    while let Ok(stop_id) = &stop {
        let row = client
            .query_one(
                "select (select state from pgdag.workflow_instance where id = $1),
                        (select error from pgdag.command where id = $2 and state = 'failed')",
                &[&instance, stop_id],
            )
            .await;
        let Ok(row) = row else { break };
        let state: Option<String> = row.get(0);
        let refused: Option<String> = row.get(1);
        if matches!(state.as_deref(), Some("stopped" | "failed" | "succeeded")) {
            break;
        }
        if let Some(error) = refused {
            if trial == 1 {
                eprintln!("    stop command refused ({error}): killing the workers instead");
            }
            break;
        }
        if Instant::now() >= stop_deadline {
            eprintln!(
                "    instance {instance} did not stop within 15 s (state {state:?}): killing the workers"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let groups: Vec<i32> = workers.iter_mut().flat_map(|w| w.task_groups()).collect();
    drop(workers);
    // SIGKILL takes effect asynchronously: give the groups a moment to go.
    let gone_by = Instant::now() + Duration::from_secs(2);
    let mut left: Vec<i32> = groups.clone();
    while !left.is_empty() && Instant::now() < gone_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left.retain(|g| group_alive(*g));
    }
    if !left.is_empty() {
        eprintln!("    task process groups still alive 2 s after cleanup: {left:?}");
    }
    result
}

async fn measure_redispatch(
    ctx: &Ctx<'_>,
    client: &mut deadpool_postgres::Object,
    workers: &mut [Proc],
    instance: i64,
    deadline: Instant,
) -> Result<f64, String> {
    // Wait until the task runs; note where.
    let (task_id, host, server_id) = loop {
        let row = client
            .query_opt(
                "select id, state, host, server_id from pgdag.task_instance where workflow_instance_id = $1",
                &[&instance],
            )
            .await
            .map_err(|e| e.to_string())?;
        let state: Option<String> = row.as_ref().map(|r| r.get(1));
        if let Some(r) = &row
            && state.as_deref() == Some("running")
        {
            break (
                r.get::<_, i64>(0),
                r.get::<_, Option<String>>(2),
                r.get::<_, Option<i64>>(3),
            );
        }
        check(deadline, || {
            format!("the task to be running (state {state:?})")
        })?;
        tokio::time::sleep(POLL).await;
    };
    let host = host.ok_or("running task has no host")?;
    let victim = workers
        .iter_mut()
        .find(|w| w.name == host)
        .ok_or_else(|| format!("task runs on {host:?}, not one of this trial's workers"))?;
    // Its task's process group: after the kill it is an orphan; the guard kills it.
    let groups = victim.task_groups();
    if groups.is_empty() {
        return Err(format!(
            "{host} runs the task but has no task process group"
        ));
    }

    // Kill at a random point of the worker's heartbeat cycle.
    tokio::time::sleep(random_delay(ctx.timings.heartbeat)).await;
    let killed_wall = SystemTime::now();
    let killed = victim.kill9();
    let seen = loop {
        let row = client
            .query_one(
                "select attempt, dispatched_at is not null, host from pgdag.task_instance where id = $1",
                &[&task_id],
            )
            .await
            .map_err(|e| e.to_string())?;
        let attempt: i32 = row.get(0);
        if attempt >= 2 && row.get::<_, bool>(1) {
            let seen = killed.elapsed().as_secs_f64();
            let new_host: Option<String> = row.get(2);
            if new_host.as_deref() == Some(host.as_str()) {
                return Err(format!(
                    "attempt {attempt} was dispatched to the killed worker {host}"
                ));
            }
            break seen;
        }
        check(deadline, || {
            format!("re-dispatch after killing {host} (attempt {attempt})")
        })?;
        tokio::time::sleep(POLL).await;
    };
    // Breakdown on the database clock: declared dead, re-queued, dispatched.
    let kill_db = epoch(killed_wall) + ctx.db_offset_s;
    if let Ok(row) = client
        .query_one(
            "select extract(epoch from s.dead_at)::float8, extract(epoch from t.queued_at)::float8,
                    extract(epoch from t.dispatched_at)::float8,
                    extract(epoch from s.heartbeat_at)::float8,
                    extract(epoch from s.dead_at - s.heartbeat_at)::float8
             from pgdag.task_instance t, pgdag.server s where t.id = $1 and s.id = $2",
            &[&task_id, &server_id],
        )
        .await
    {
        let at = |i: usize| {
            row.get::<_, Option<f64>>(i)
                .map(|x| format!("{:+.2} s", x - kill_db))
                .unwrap_or_else(|| "-".into())
        };
        let age = row
            .get::<_, Option<f64>>(4)
            .map(|x| format!("{x:.2} s"))
            .unwrap_or_else(|| "-".into());
        eprintln!(
            "    killed {host}: last heartbeat {}, declared dead {} (heartbeat age {age}), re-queued {}, dispatched {} (database clock, from the kill)",
            at(3),
            at(0),
            at(1),
            at(2)
        );
    }
    Ok(seen)
}

// ---------------------------------------------------------------------------------------
// 2. Leader kill -> next leader's first action
// ---------------------------------------------------------------------------------------

async fn leader_kill(ctx: &mut Ctx<'_>) -> Vec<Result<f64, String>> {
    eprintln!("failover 2/2: leader kill -9 -> next leader's term, {TRIALS} trials");
    let mut masters: Vec<Proc> = Vec::new();
    let mut results = Vec::new();
    for trial in 1..=TRIALS {
        let result = leader_trial(ctx, &mut masters).await;
        match &result {
            Ok(s) => eprintln!("  trial {trial}: {s:.3} s"),
            Err(e) => eprintln!("  trial {trial}: FAILED: {e}"),
        }
        results.push(result);
    }
    drop(masters);
    results
}

async fn leader_trial(ctx: &mut Ctx<'_>, masters: &mut Vec<Proc>) -> Result<f64, String> {
    let deadline = Instant::now() + TRIAL_DEADLINE;
    // Two live masters; a killed one is replaced by a fresh process.
    masters.retain_mut(|m| m.alive());
    while masters.len() < 2 {
        let name = format!("m{}", ctx.spawned + 1);
        masters.push(ctx.spawn("master", &name, None, None)?);
    }
    let mut ids = Vec::new();
    for m in masters.iter_mut() {
        ids.push(ctx.wait_registered_id(m, deadline).await?);
    }
    let client = ctx.store.client().await.map_err(|e| e.to_string())?;
    // The leader must be one of ours (a master of an earlier phase may still hold it).
    let (term, leader_idx) = loop {
        let row = client
            .query_one("select term, server_id from pgdag.leader_term", &[])
            .await
            .map_err(|e| e.to_string())?;
        let term: i64 = row.get(0);
        let leader: Option<i64> = row.get(1);
        if let Some(i) = ids.iter().position(|id| Some(*id) == leader) {
            break (term, i);
        }
        check(deadline, || {
            format!("one of the masters {ids:?} to lead (leader {leader:?}, term {term})")
        })?;
        tokio::time::sleep(POLL).await;
    };
    // Let the standby settle into its retry loop (it registered, but may still be
    // starting), then kill at a random point of its retry cycle.
    tokio::time::sleep(Duration::from_millis(500) + random_delay(ctx.timings.leader_retry)).await;
    let killed_wall = SystemTime::now();
    let killed = masters[leader_idx].kill9();
    let name = masters[leader_idx].name.clone();
    loop {
        let row = client
            .query_one(
                "select term, server_id, extract(epoch from elected_at)::float8 from pgdag.leader_term",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let now_term: i64 = row.get(0);
        if now_term > term {
            let seen = killed.elapsed().as_secs_f64();
            let new_leader: Option<i64> = row.get(1);
            let elected: Option<f64> = row.get(2);
            let survivor = ids[1 - leader_idx];
            eprintln!(
                "    killed {name} (server {}): term {term} -> {now_term}, new leader server {new_leader:?}{}, elected {} (database clock)",
                ids[leader_idx],
                if new_leader == Some(survivor) {
                    " (the standby)"
                } else {
                    " (NOT the standby)"
                },
                elected
                    .map(|e| format!("{:+.2} s", e - epoch(killed_wall) - ctx.db_offset_s))
                    .unwrap_or_else(|| "-".into())
            );
            return Ok(seen);
        }
        check(deadline, || {
            format!("a new term after killing the leader {name} (term {term})")
        })?;
        tokio::time::sleep(POLL).await;
    }
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/// A `pgdag server` child. Drop kills it (SIGKILL) and every task process group it had.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// Task process groups seen under it (they outlive a `kill -9` of the server).
    groups: Vec<i32>,
    exited: bool,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn alive(&mut self) -> bool {
        if !self.exited && matches!(self.child.try_wait(), Ok(Some(_))) {
            self.exited = true;
        }
        !self.exited
    }

    /// The task process groups of this server, remembered for Drop.
    fn task_groups(&mut self) -> Vec<i32> {
        if self.alive() {
            for g in child_groups(self.pid()) {
                if !self.groups.contains(&g) {
                    self.groups.push(g);
                }
            }
        }
        self.groups.clone()
    }

    /// `kill -9`; returns the instant right after the signal was sent, then reaps it.
    fn kill9(&mut self) -> Instant {
        self.task_groups();
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let at = Instant::now();
        let _ = self.child.wait();
        self.exited = true;
        at
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n    ")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.task_groups();
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for &g in &self.groups {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
    }
}

impl Ctx<'_> {
    fn spawn(
        &mut self,
        roles: &str,
        name: &str,
        state_dir: Option<&Path>,
        group: Option<&str>,
    ) -> Result<Proc, String> {
        self.spawned += 1;
        let log = self.dir.join(format!("{}-{name}.log", self.spawned));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut command = Command::new(self.exe);
        command
            .args(["server", "--roles", roles])
            .env("PGDAG_DATABASE_URL", self.url)
            .env("PGDAG_HTTP_ADDR", "127.0.0.1:0")
            .env("PGDAG_METRICS_ADDR", "127.0.0.1:0")
            .env("PGDAG_SERVER_NAME", name)
            .env("PGDAG_MAX_TASKS", "1")
            .env(
                "PGDAG_HEARTBEAT_INTERVAL",
                self.timings.heartbeat.to_string(),
            )
            .env("PGDAG_DEAD_AFTER", self.timings.dead_after.to_string())
            .env("PGDAG_LEADER_RETRY", self.timings.leader_retry.to_string())
            .env("PGDAG_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        if let Some(dir) = state_dir {
            command.env("PGDAG_STATE_DIR", dir);
        } else {
            command.env("PGDAG_STATE_DIR", self.dir.join(format!("state-{name}")));
        }
        if let Some(group) = group {
            command.env("PGDAG_WORKER_GROUPS", group);
        }
        // Die with the bench (spawned from the main thread, which lives as long as it).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| {
            format!(
                "cannot start {}: {e} (build it with cargo build --release)",
                self.exe.display()
            )
        })?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
            groups: Vec::new(),
            exited: false,
        })
    }

    async fn wait_registered(&self, proc: &mut Proc, deadline: Instant) -> Result<(), String> {
        self.wait_registered_id(proc, deadline).await.map(|_| ())
    }

    /// Wait until the process has a live `pgdag.server` row; its id.
    async fn wait_registered_id(&self, proc: &mut Proc, deadline: Instant) -> Result<i64, String> {
        let client = self.store.client().await.map_err(|e| e.to_string())?;
        loop {
            if !proc.alive() {
                return Err(format!(
                    "{} exited at start:\n    {}",
                    proc.name,
                    proc.log_tail()
                ));
            }
            let row = client
                .query_opt(
                    "select id from pgdag.server where pid = $1 and name = $2
                     and stopped_at is null and dead_at is null order by id desc limit 1",
                    &[&proc.pid(), &proc.name],
                )
                .await
                .map_err(|e| e.to_string())?;
            if let Some(row) = row {
                return Ok(row.get(0));
            }
            check(deadline, || format!("{} to register", proc.name))?;
            tokio::time::sleep(POLL).await;
        }
    }
}

fn check(deadline: Instant, what: impl FnOnce() -> String) -> Result<(), String> {
    if Instant::now() >= deadline {
        Err(format!(
            "timed out after {} s waiting for {}",
            TRIAL_DEADLINE.as_secs(),
            what()
        ))
    } else {
        Ok(())
    }
}

/// Uniform in [0, period).
fn random_delay(period: pgdag::model::Duration) -> Duration {
    Duration::from_millis(fastrand::u64(0..period.millis.max(1)))
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Database clock minus local clock, from the midpoint of one round trip.
async fn db_offset(store: &Store) -> f64 {
    let client = store.client().await.unwrap();
    let mut best = (f64::INFINITY, 0.0);
    for _ in 0..5 {
        let before = SystemTime::now();
        let db: f64 = client
            .query_one("select extract(epoch from clock_timestamp())::float8", &[])
            .await
            .unwrap()
            .get(0);
        let after = SystemTime::now();
        let rtt = epoch(after) - epoch(before);
        if rtt < best.0 {
            best = (rtt, db - (epoch(before) + rtt / 2.0));
        }
    }
    best.1
}

struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Process groups, from /proc
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
        out.push((
            pid,
            state,
            fields[1].parse().unwrap_or(0),
            fields[2].parse().unwrap_or(0),
        ));
    }
    out
}

/// The process groups of `pid`'s children other than `pid`'s own group.
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

/// Whether a live (not zombie) process is in this group.
fn group_alive(pgid: i32) -> bool {
    processes()
        .iter()
        .any(|&(_, state, _, pgrp)| pgrp == pgid && state != 'Z' && state != 'X')
}
