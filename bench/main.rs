//! pgdag-bench: measures, in one run, pgdag's per-hop latency, its fan-out and `sql`
//! throughput each against the limit of this machine measured right before it (the
//! process-spawn rate, the raw Postgres queue cycle), the standalone process's memory and
//! idle cost, and the rest bench/README.md lists.
//!
//! Usage: cargo run --release --bin pgdag-bench [-- --tasks 1000 --chain 20 --chains 3 --quick]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgdag::model::CommandType;
use pgdag::store::{self, Store, commands, definitions, instances};

mod bigdag;
mod failover;
mod pages;
mod scheduling;
mod throughput;

struct Args {
    admin_url: String,
    tasks: usize,
    chain: usize,
    chains: usize,
    max_tasks: usize,
    skip_failover: bool,
    cron_schedules: usize,
    cron_seconds: usize,
    page_workflows: usize,
    sql_tasks: usize,
    /// Queued attempts of the deep-backlog claim measure (0: skipped).
    backlog: usize,
    /// Idle measures over 20 s instead of 60 s; no failover, no cron measure.
    quick: bool,
    /// `--only bigdag`: that measure alone. `--bigdag-tasks N`: its DAG's size (0: skip it).
    only: Option<String>,
    bigdag_tasks: usize,
}

fn args() -> Args {
    let mut args = Args {
        admin_url: std::env::var("PGDAG_BENCH_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        tasks: 1000,
        chain: 20,
        chains: 3,
        max_tasks: std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(4),
        skip_failover: false,
        cron_schedules: 50,
        cron_seconds: 60,
        page_workflows: 500,
        sql_tasks: 2000,
        backlog: 1_000_000,
        quick: false,
        only: None,
        bigdag_tasks: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--skip-failover" {
            args.skip_failover = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        if flag == "--quick" {
            args.quick = true;
            args.skip_failover = true;
            args.cron_seconds = 0;
            args.backlog = 0;
            args.bigdag_tasks = 0;
            continue;
        }
        let value = it.next().unwrap_or_default();
        let number = || {
            value.parse::<usize>().unwrap_or_else(|_| {
                eprintln!("{flag} needs a number, not {value:?}\n\n{USAGE}");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--tasks" => args.tasks = number(),
            "--chain" => args.chain = number(),
            "--chains" => args.chains = number(),
            "--max-tasks" => args.max_tasks = number(),
            "--cron-schedules" => args.cron_schedules = number(),
            "--cron-seconds" => args.cron_seconds = number(),
            "--page-workflows" => args.page_workflows = number(),
            "--sql-tasks" => args.sql_tasks = number(),
            "--backlog" => args.backlog = number(),
            "--bigdag-tasks" => args.bigdag_tasks = number(),
            "--only" => args.only = Some(value.clone()),
            other => {
                eprintln!("unknown flag {other}\n\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    args
}

const USAGE: &str = "usage: pgdag-bench [--quick] [--skip-failover] [--only NAME] [--tasks N] \
[--chain N] [--chains N] [--max-tasks N] [--sql-tasks N] [--page-workflows N] \
[--cron-schedules N] [--cron-seconds N] [--backlog N] [--bigdag-tasks N]
(bench/README.md says what each measure is)";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = args();
    let exe = std::env::current_exe().unwrap().with_file_name("pgdag");
    if let Some(only) = &args.only {
        assert_eq!(only, "bigdag", "--only knows bigdag");
        let report = bigdag::run(&args.admin_url, &exe, args.bigdag_tasks, args.max_tasks).await;
        for (name, value) in &report.rows {
            println!("{name:<62} {value}");
        }
        println!("{}", serde_json::Value::Object(report.json));
        return;
    }
    let db_name = format!("pgdag_bench_{}", std::process::id());
    let url = format!("{}/{db_name}", args.admin_url.rsplit_once('/').unwrap().0);
    store::ensure_database(&url)
        .await
        .expect("create the bench database");
    let store = Store::connect(&url, "pgdag:bench", 4).unwrap();
    store.migrate().await.expect("migrate");

    eprintln!("1/4 starting standalone");
    let mut child = Command::new(&exe)
        .arg("standalone")
        .env("PGDAG_DATABASE_URL", &url)
        .env("PGDAG_HTTP_ADDR", "127.0.0.1:0")
        .env("PGDAG_METRICS_ADDR", "127.0.0.1:0")
        .env("PGDAG_MAX_TASKS", args.max_tasks.to_string())
        .env("PGDAG_ADMIN_PASSWORD", "bench")
        .env("PGDAG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it with cargo build --release)",
                exe.display()
            )
        });
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().and_then(Result::ok).unwrap_or_default();
    let api_base = ready
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("standalone did not start: {ready:?}"))
        .to_string();

    let idle_window = Duration::from_secs(if args.quick { 20 } else { 60 });
    eprintln!("idle standalone: {} s", 15 + idle_window.as_secs());
    let idle_standalone = throughput::idle_per_minute(
        &args.admin_url,
        &db_name,
        Duration::from_secs(15),
        idle_window,
    )
    .await;
    let idle_rss_mb = rss_kb(pid, "VmRSS:") as f64 / 1024.0;
    // Of which the process's own memory (heap, stacks) and pages of files it maps (the
    // executable's code, shared with the page cache and with other pgdag processes).
    let idle_anon_mb = rss_kb(pid, "RssAnon:") as f64 / 1024.0;
    let idle_file_mb = rss_kb(pid, "RssFile:") as f64 / 1024.0;

    let mut chain_yaml = String::from("project: bench\nname: chain\ntasks:\n");
    for i in 0..args.chain {
        chain_yaml.push_str(&format!("  - {{ name: t{i}, type: shell, script: 'true'"));
        if i > 0 {
            chain_yaml.push_str(&format!(", depends_on: [t{}]", i - 1));
        }
        chain_yaml.push_str(" }\n");
    }
    let mut fan_yaml = String::from("project: bench\nname: fanout\ntasks:\n");
    for i in 0..args.tasks {
        fan_yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'true' }}\n"
        ));
    }
    // Master-side types: 20 nested sub-processes, and a chain of 20 switch tasks.
    let mut nest_yaml = String::new();
    for level in 0..NEST_LEVELS {
        nest_yaml.push_str(&format!(
            "project: bench\nname: nest{level}\ntasks:\n  - {{ name: down, type: sub_process, workflow: nest{} }}\n---\n",
            level + 1
        ));
    }
    nest_yaml.push_str(&format!(
        "project: bench\nname: nest{NEST_LEVELS}\ntasks:\n  - {{ name: leaf, type: empty }}\n"
    ));
    let mut switch_yaml = String::from("project: bench\nname: switches\ntasks:\n");
    for i in 0..NEST_LEVELS {
        switch_yaml.push_str(&format!(
            "  - {{ name: s{i}, type: switch, cases: [{{ when: '1 == 1', then: s{} }}]",
            i + 1
        ));
        if i > 0 {
            switch_yaml.push_str(&format!(", depends_on: [s{}]", i - 1));
        }
        switch_yaml.push_str(" }\n");
    }
    switch_yaml.push_str(&format!(
        "  - {{ name: s{NEST_LEVELS}, type: empty, depends_on: [s{}] }}\n",
        NEST_LEVELS - 1
    ));
    for yaml in [&chain_yaml, &fan_yaml, &nest_yaml, &switch_yaml] {
        let specs = pgdag::apply::check_text("bench.yaml", yaml).expect("bench YAML is valid");
        let mut client = store.client().await.unwrap();
        definitions::apply_all(&mut client, "sql:bench", &specs)
            .await
            .unwrap();
    }

    eprintln!("2/4 chain of {} x (1 + {})", args.chain, args.chains);
    // The first chain after the start runs on connections that are still being opened and
    // statements prepared and planned at their first use: reported on its own line, not
    // mixed into the hop gaps of a running process.
    let mut first_gaps = Vec::new();
    let mut gaps = Vec::new();
    let mut chain_walls = Vec::new();
    for i in 0..=args.chains {
        let detail = run_and_wait(&store, "chain").await;
        let mut tasks = detail.tasks.clone().unwrap();
        tasks.sort_by_key(|t| t.name[1..].parse::<usize>().unwrap());
        let into = if i == 0 { &mut first_gaps } else { &mut gaps };
        for pair in tasks.windows(2) {
            let gap = pair[1].started_at.unwrap() - pair[0].ended_at.unwrap();
            into.push(gap.num_microseconds().unwrap() as f64 / 1000.0);
        }
        if i > 0 {
            chain_walls.push(
                (detail.ended_at.unwrap() - detail.started_at.unwrap()).num_milliseconds() as f64,
            );
        }
    }
    first_gaps.sort_by(f64::total_cmp);
    gaps.sort_by(f64::total_cmp);
    chain_walls.sort_by(f64::total_cmp);

    // Each ratio's limit is measured right before its measure, and each pair is repeated:
    // this machine's speed drifts by a quarter within minutes, so a limit taken once at the
    // start made one build's fan-out ratio 62 % in one run and 88 % in the next
    // (bench/README.md, "Limits beside their measures").
    eprintln!(
        "3/4 fan-out of {}, {FANOUT_RUNS} times, each after the spawn-only limit",
        args.tasks
    );
    let mut fan_pairs = Vec::new();
    let mut detail = None;
    for _ in 0..FANOUT_RUNS {
        let spawn = spawn_rate(1_000, args.max_tasks).await;
        let d = run_and_wait(&store, "fanout").await;
        let wall = wall_seconds(&d);
        fan_pairs.push(Pair::new(args.tasks as f64 / wall, wall, spawn));
        detail = Some(d);
    }
    let detail = detail.unwrap();
    let fan = Pair::median(fan_pairs);
    let peak_rss_mb = peak_rss_kb(pid) as f64 / 1024.0;

    eprintln!(
        "4/4 {} sql tasks `select 1`, {} times, each after the raw queue cycle",
        args.sql_tasks,
        throughput::SQL_WARM_RUNS
    );
    let (sql_first_wall, sql_first_rate) =
        throughput::sql_setup(&store, &url, args.sql_tasks).await;
    let (mut sql_pairs, mut tls_pairs) = (Vec::new(), Vec::new());
    for _ in 0..throughput::SQL_WARM_RUNS {
        let raw = raw_queue_rate(&store, 20_000).await;
        let [plain, tls] = throughput::SQL_WORKFLOWS;
        let wall = throughput::sql_wall(&store, plain).await;
        sql_pairs.push(Pair::new(args.sql_tasks as f64 / wall, wall, raw));
        let wall = throughput::sql_wall(&store, tls).await;
        tls_pairs.push(Pair::new(args.sql_tasks as f64 / wall, wall, raw));
    }
    let sql = Pair::median(sql_pairs);
    let sql_tls = Pair::median(tls_pairs);

    eprintln!("master-side types: {NEST_LEVELS} nested sub-processes, {NEST_LEVELS} switches");
    let mut nest_walls = Vec::new();
    let mut switch_walls = Vec::new();
    for _ in 0..5 {
        let d = run_and_wait(&store, "nest0").await;
        nest_walls.push(
            (d.ended_at.unwrap() - d.started_at.unwrap())
                .num_microseconds()
                .unwrap() as f64
                / 1000.0,
        );
        let d = run_and_wait(&store, "switches").await;
        switch_walls.push(
            (d.ended_at.unwrap() - d.started_at.unwrap())
                .num_microseconds()
                .unwrap() as f64
                / 1000.0,
        );
    }
    nest_walls.sort_by(f64::total_cmp);
    switch_walls.sort_by(f64::total_cmp);

    eprintln!(
        "web admin pages ({} workflows, a {}-task instance)",
        args.page_workflows, args.tasks
    );
    let pages = pages::run(&store, &api_base, args.page_workflows, detail.id).await;

    let scheduling = if args.cron_seconds == 0 {
        None
    } else {
        eprintln!(
            "cron: {} schedules every second for {} s, then a 365-date backfill",
            args.cron_schedules, args.cron_seconds
        );
        Some(scheduling::run(&store, args.cron_schedules, args.cron_seconds as u64).await)
    };

    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = child.wait();
    eprintln!("idle worker-only process: {} s", 15 + idle_window.as_secs());
    let idle_worker =
        throughput::idle_worker(&exe, &url, &args.admin_url, &db_name, idle_window).await;
    let failover = if args.skip_failover {
        None
    } else {
        Some(failover::run(&store, &url, &exe).await)
    };
    let backlog = if args.backlog == 0 {
        None
    } else {
        eprintln!("claims from a backlog of 1,000 and of {}", args.backlog);
        Some(throughput::backlog(&store, args.backlog).await)
    };
    let bigdag = if args.bigdag_tasks > 0 {
        eprintln!("big DAG: {} tasks", args.bigdag_tasks);
        Some(bigdag::run(&args.admin_url, &exe, args.bigdag_tasks, args.max_tasks).await)
    } else {
        None
    };
    store.pool.close();
    let (admin, connection) = tokio_postgres::connect(&args.admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let _ = admin
        .batch_execute(&format!("drop database if exists {db_name} with (force)"))
        .await;

    let rows = [
        (
            "raw Postgres queue cycle (insert, SKIP LOCKED claim, complete)",
            format!(
                "{:.0} tasks/s (median of {})",
                sql.limit,
                throughput::SQL_WARM_RUNS
            ),
        ),
        (
            &*format!("spawn `bash -c true`, {} at a time", args.max_tasks),
            format!("{:.0} spawns/s (median of {FANOUT_RUNS})", fan.limit),
        ),
        (
            &*format!("chain of {}: per-hop gap p50", args.chain),
            format!("{:.1} ms", percentile(&gaps, 50.0)),
        ),
        (
            "chain: per-hop gap p95",
            format!("{:.1} ms", percentile(&gaps, 95.0)),
        ),
        (
            "chain: total wall time (median)",
            format!("{:.0} ms", percentile(&chain_walls, 50.0)),
        ),
        (
            "first chain after the start: per-hop gap p50 / p95",
            format!(
                "{:.1} / {:.1} ms (not in the two lines above)",
                percentile(&first_gaps, 50.0),
                percentile(&first_gaps, 95.0)
            ),
        ),
        (
            &*format!(
                "fan-out of {} shell tasks (median of {FANOUT_RUNS})",
                args.tasks
            ),
            format!("{:.0} tasks/s ({:.2} s)", fan.rate, fan.wall),
        ),
        (
            "fan-out / spawn-only rate (target >= 75 %, median of pairs)",
            format!("{:.0} % ({})", 100.0 * fan.ratio, fan.ratios()),
        ),
        (
            &*format!(
                "{} sql tasks `select 1`, plain link, one instance (median of {})",
                args.sql_tasks,
                throughput::SQL_WARM_RUNS
            ),
            format!("{:.0} tasks/s ({:.2} s)", sql.rate, sql.wall),
        ),
        (
            "sql tasks / raw queue cycle (target >= 20 %, median of pairs)",
            format!("{:.1} % ({})", 100.0 * sql.ratio, sql.ratios()),
        ),
        (
            "the same over TLS (sslmode=require) / raw queue cycle",
            format!(
                "{:.0} tasks/s, {:.1} % ({})",
                sql_tls.rate,
                100.0 * sql_tls.ratio,
                sql_tls.ratios()
            ),
        ),
        (
            "first sql instance after the start (pool opened in it)",
            format!(
                "{sql_first_rate:.0} tasks/s ({sql_first_wall:.2} s, {:.1} %; not in the two lines above)",
                100.0 * sql_first_rate / sql.limit
            ),
        ),
        (
            "idle standalone, transactions/min (target <= 120)",
            format!("{idle_standalone:.0}"),
        ),
        (
            "idle worker-only process, transactions/min (target <= 40)",
            format!("{idle_worker:.0}"),
        ),
        (
            "idle standalone RSS after settling (target <= 20 MiB)",
            format!(
                "{idle_rss_mb:.1} MiB ({idle_anon_mb:.1} anonymous, {idle_file_mb:.1} file-backed code)"
            ),
        ),
        (
            "standalone peak RSS during fan-out",
            format!("{peak_rss_mb:.1} MiB"),
        ),
        (
            &*format!("{NEST_LEVELS} nested sub_process levels, wall (median of 5)"),
            format!(
                "{:.1} ms ({:.2} ms per level)",
                percentile(&nest_walls, 50.0),
                percentile(&nest_walls, 50.0) / NEST_LEVELS as f64
            ),
        ),
        (
            &*format!("chain of {NEST_LEVELS} switch tasks, wall (median of 5)"),
            format!("{:.1} ms", percentile(&switch_walls, 50.0)),
        ),
    ];
    println!("{:<62} value", "measure");
    for (name, value) in rows {
        println!("{name:<62} {value}");
    }
    if let Some((shallow, deep, fill)) = backlog {
        println!(
            "{:<62} {shallow:.0} tasks/s",
            "claim, 1,000 queued (batches of 12)"
        );
        println!(
            "{:<62} {deep:.0} tasks/s ({fill:.0} s to fill)",
            format!("claim, {} queued", args.backlog)
        );
        println!(
            "{:<62} {:.0} %",
            "deep / shallow claim rate (target >= 80 %)",
            100.0 * deep / shallow
        );
    }
    for (name, value) in &pages.rows {
        println!("{name:<62} {value}");
    }
    for (name, value) in scheduling.iter().flat_map(|s| &s.rows) {
        println!("{name:<62} {value}");
    }
    for (name, value) in failover.iter().flat_map(|f| &f.rows) {
        println!("{name:<62} {value}");
    }
    for (name, value) in bigdag.iter().flat_map(|b| &b.rows) {
        println!("{name:<62} {value}");
    }
    let mut json = serde_json::json!({
            "raw_queue_tasks_per_s": sql.limit.round(),
            "spawn_per_s": fan.limit.round(),
            "max_tasks": args.max_tasks,
            "chain_len": args.chain,
            "hop_gap_ms_p50": percentile(&gaps, 50.0),
            "hop_gap_ms_p95": percentile(&gaps, 95.0),
            "first_chain_hop_gap_ms_p50": percentile(&first_gaps, 50.0),
            "first_chain_hop_gap_ms_p95": percentile(&first_gaps, 95.0),
            "chain_wall_ms_median": percentile(&chain_walls, 50.0),
            "fanout_tasks": args.tasks,
            "fanout_tasks_per_s": fan.rate.round(),
            "fanout_vs_spawn": fan.ratio,
            "fanout_vs_spawn_runs": fan.runs,
            "peak_rss_mib": peak_rss_mb,
            "idle_rss_mib": idle_rss_mb,
            "idle_rss_anon_mib": idle_anon_mb,
            "idle_rss_file_mib": idle_file_mb,
            "sql_tasks": args.sql_tasks,
            "sql_tasks_per_s": sql.rate.round(),
            "sql_first_instance_tasks_per_s": sql_first_rate.round(),
            "sql_vs_raw_queue": sql.ratio,
            "sql_vs_raw_queue_runs": sql.runs,
            "sql_tls_tasks_per_s": sql_tls.rate.round(),
            "sql_tls_vs_raw_queue": sql_tls.ratio,
            "sql_tls_vs_raw_queue_runs": sql_tls.runs,
            "idle_standalone_xact_per_min": idle_standalone.round(),
            "idle_worker_xact_per_min": idle_worker.round(),
            "nested_sub_process_wall_ms_median": percentile(&nest_walls, 50.0),
            "switch_chain_wall_ms_median": percentile(&switch_walls, 50.0),
    });
    json.as_object_mut().unwrap().extend(pages.json);
    if let Some(s) = scheduling {
        json.as_object_mut().unwrap().extend(s.json);
    }
    if let Some((shallow, deep, _)) = backlog {
        json.as_object_mut().unwrap().extend([
            ("backlog".to_string(), serde_json::json!(args.backlog)),
            (
                "claim_1k_per_s".to_string(),
                serde_json::json!(shallow.round()),
            ),
            (
                "claim_deep_per_s".to_string(),
                serde_json::json!(deep.round()),
            ),
        ]);
    }
    if let Some(f) = failover {
        json.as_object_mut().unwrap().extend(f.json);
    }
    if let Some(b) = bigdag {
        json.as_object_mut().unwrap().extend(b.json);
    }
    println!("{json}");
}

/// Fan-outs run, each right after a spawn-only measure.
const FANOUT_RUNS: usize = 3;

/// Runs of a measure, each beside the limit measured right before it: the medians of the
/// rates, walls and limits, and the median of the per-run ratios (the figure the target is
/// about: a run on a slow minute is compared with that minute's limit).
struct Pair {
    rate: f64,
    wall: f64,
    limit: f64,
    ratio: f64,
    /// Every run's ratio, in run order.
    runs: Vec<f64>,
}

impl Pair {
    fn new(rate: f64, wall: f64, limit: f64) -> Pair {
        Pair {
            rate,
            wall,
            limit,
            ratio: rate / limit,
            runs: vec![rate / limit],
        }
    }
    fn median(pairs: Vec<Pair>) -> Pair {
        let median = |f: fn(&Pair) -> f64| {
            let mut v: Vec<f64> = pairs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        Pair {
            rate: median(|p| p.rate),
            wall: median(|p| p.wall),
            limit: median(|p| p.limit),
            ratio: median(|p| p.ratio),
            runs: pairs.iter().map(|p| p.ratio).collect(),
        }
    }
    /// Every run's ratio in percent, e.g. "runs 71.2, 78.0, 80.4 %".
    fn ratios(&self) -> String {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|r| format!("{:.1}", 100.0 * r))
            .collect();
        format!("runs {} %", runs.join(", "))
    }
}

/// Levels of the nested sub-process benchmark (and switches in the switch chain).
const NEST_LEVELS: usize = 20;

/// An ended instance's wall time (start to end, database clock), in seconds.
fn wall_seconds(detail: &instances::InstanceDetail) -> f64 {
    (detail.ended_at.unwrap() - detail.started_at.unwrap()).num_milliseconds() as f64 / 1000.0
}

async fn run_and_wait(store: &Store, workflow: &str) -> instances::InstanceDetail {
    let id = start(store, "bench", workflow).await;
    wait_final(store, id).await
}

/// Start `project/workflow` through a command row; the instance id.
async fn start(store: &Store, project: &str, workflow: &str) -> i64 {
    let client = store.client().await.unwrap();
    let (_, id) = commands::insert(
        &client,
        "sql:bench",
        CommandType::Start,
        Some(project),
        Some(workflow),
        &serde_json::json!({}),
        &serde_json::json!({}),
        None,
    )
    .await
    .unwrap();
    id
}

/// Wait (at most 10 minutes) for instance `id` to succeed.
async fn wait_final(store: &Store, id: i64) -> instances::InstanceDetail {
    let client = store.client().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(detail) = instances::get(&client, id).await.unwrap()
            && detail
                .state
                .parse::<pgdag::model::WorkflowState>()
                .unwrap()
                .is_final()
        {
            assert_eq!(
                detail.state, "succeeded",
                "bench instance {id} ({}/{}) failed",
                detail.project, detail.workflow
            );
            return detail;
        }
        assert!(
            Instant::now() < deadline,
            "bench instance {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The SQL-only limit: one client inserting, claiming (batched SKIP LOCKED, the same claim
/// shape as pgdag's) and completing `n` tasks in batches of 100.
async fn raw_queue_rate(store: &Store, n: usize) -> f64 {
    let mut client = store.client().await.unwrap();
    client
        .batch_execute(
            "drop table if exists bench_queue, bench_done;
             create table bench_queue (id bigserial primary key, priority int not null, payload text not null);
             create index on bench_queue (priority, id);
             create table bench_done (id bigint primary key, done_at timestamptz not null default now());",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let batch = 100i64;
    for _ in 0..(n as i64 / batch) {
        client
            .execute("insert into bench_queue (priority, payload) select 2, 'true' from generate_series(1, $1::bigint)", &[&batch])
            .await
            .unwrap();
        claim_and_complete(&mut client, batch).await;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn claim_and_complete(client: &mut deadpool_postgres::Object, batch: i64) {
    let tx = client.transaction().await.unwrap();
    let rows = tx
        .query(
            "with picked as materialized (select id from bench_queue order by priority, id limit $1 for update skip locked)
             delete from bench_queue q using picked where q.id = picked.id returning q.id",
            &[&batch],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    client
        .execute(
            "insert into bench_done (id) select unnest($1::bigint[])",
            &[&ids],
        )
        .await
        .unwrap();
}

/// How fast this host spawns `bash -c true`, `concurrency` at a time.
async fn spawn_rate(n: usize, concurrency: usize) -> f64 {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = slots.clone().acquire_owned().await.unwrap();
        handles.push(tokio::spawn(async move {
            let status = tokio::process::Command::new("bash")
                .args(["-c", "true"])
                .status()
                .await;
            drop(permit);
            status.map(|s| s.success()).unwrap_or(false)
        }));
    }
    for h in handles {
        assert!(h.await.unwrap(), "bash -c true failed");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Peak resident set size (VmHWM) of a process, in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    rss_kb(pid, "VmHWM:")
}

/// A memory figure of a process from /proc (`VmHWM:` peak, `VmRSS:` now, `RssAnon:`,
/// `RssFile:`), in KiB.
fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
