//! Chaos: 2 masters and 3 workers (real processes) run ~30 small DAGs while a random one of
//! them is killed (-9) and restarted every 2–3 s for ~60 s. Then the kills stop and, within a
//! bounded wait, every instance must have succeeded with nothing stuck, every task's side
//! effect must have happened, and no attempt may have been accepted twice.
//!
//! The RNG is seeded; the seed is printed. Rerun one schedule with
//! `PGDAG_CHAOS_SEED=<seed> cargo test --test chaos -- --nocapture`.

#[path = "it/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "cluster/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use support::*;

const CHAOS: Duration = Duration::from_secs(60);
const INSTANCES: usize = 30;
const SERVERS: [(&str, &str); 5] = [
    ("m1", "master"),
    ("m2", "master"),
    ("w1", "worker"),
    ("w2", "worker"),
    ("w3", "worker"),
];

/// `sleep` of 0.2–1.2 s, then the side effect: one `<task instance id> <attempt>` line.
fn script(rng: &mut fastrand::Rng, effects: &std::path::Path) -> String {
    let tenths = rng.u32(2..=12);
    format!(
        "sleep {}.{}\necho \"$PGDAG_TASK_INSTANCE_ID $PGDAG_ATTEMPT\" >> {}",
        tenths / 10,
        tenths % 10,
        effects.display()
    )
}

/// Six small DAGs: two chains of 4, two fan-outs (1 -> 4 -> 1), two diamonds.
fn definitions(rng: &mut fastrand::Rng, effects: &std::path::Path) -> (String, Vec<String>) {
    let mut yaml = String::new();
    let mut names = Vec::new();
    for variant in 0..2 {
        let name = format!("chain{variant}");
        yaml.push_str(&format!("project: chaos\nname: {name}\ntasks:\n"));
        for i in 0..4 {
            let dep = format!("c{}", i.max(1) - 1);
            let deps: Vec<&str> = if i == 0 { vec![] } else { vec![dep.as_str()] };
            yaml.push_str(&shell_task(&format!("c{i}"), &deps, &script(rng, effects)));
        }
        yaml.push_str("---\n");
        names.push(name);

        let name = format!("fan{variant}");
        yaml.push_str(&format!("project: chaos\nname: {name}\ntasks:\n"));
        yaml.push_str(&shell_task("root", &[], &script(rng, effects)));
        for i in 0..4 {
            yaml.push_str(&shell_task(
                &format!("f{i}"),
                &["root"],
                &script(rng, effects),
            ));
        }
        yaml.push_str(&shell_task(
            "join",
            &["f0", "f1", "f2", "f3"],
            &script(rng, effects),
        ));
        yaml.push_str("---\n");
        names.push(name);

        let name = format!("diamond{variant}");
        yaml.push_str(&format!("project: chaos\nname: {name}\ntasks:\n"));
        yaml.push_str(&shell_task("a", &[], &script(rng, effects)));
        yaml.push_str(&shell_task("b", &["a"], &script(rng, effects)));
        yaml.push_str(&shell_task("c", &["a"], &script(rng, effects)));
        yaml.push_str(&shell_task("d", &["b", "c"], &script(rng, effects)));
        yaml.push_str("---\n");
        names.push(name);
    }
    (yaml, names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_kills_and_restarts_lose_nothing_and_accept_nothing_twice() {
    let seed: u64 = std::env::var("PGDAG_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("chaos seed {seed} (rerun with PGDAG_CHAOS_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);

    let mut c = Cluster::new().await;
    let effects = c.path("effects");
    let (yaml, workflows) = definitions(&mut rng, &effects);
    c.apply(&yaml).await;
    for (name, roles) in SERVERS {
        c.start(name, roles, &[]);
    }
    for (name, _) in SERVERS {
        c.registered(name).await;
    }
    c.leader(Duration::from_secs(15)).await;

    // Instances are started along the way (a third at once, the rest every 2.7 s until
    // ~54 s), so that kills land on work all through the chaos and in every phase: queued,
    // dispatched, running, reporting.
    let mut plan: Vec<(Duration, String)> = (0..INSTANCES)
        .map(|i| {
            let at = if i < INSTANCES / 3 {
                Duration::ZERO
            } else {
                Duration::from_millis(2700 * (i - INSTANCES / 3 + 1) as u64)
            };
            (at, workflows[rng.usize(..workflows.len())].clone())
        })
        .collect();
    plan.reverse();
    let mut ids = Vec::new();
    let mut kills: BTreeMap<&str, usize> = BTreeMap::new();
    let start = Instant::now();
    let mut next_kill = Duration::from_millis(rng.u64(2000..=3000));
    while start.elapsed() < CHAOS {
        while plan.last().is_some_and(|(at, _)| *at <= start.elapsed()) {
            let (_, workflow) = plan.pop().unwrap();
            ids.push(c.run(&format!("chaos/{workflow}")).await);
        }
        if start.elapsed() >= next_kill {
            let (name, _) = SERVERS[rng.usize(..SERVERS.len())];
            println!("{:5.1}s kill -9 {name}", start.elapsed().as_secs_f64());
            c.server(name).kill9();
            *kills.entry(name).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(rng.u64(0..=500))).await;
            c.restart(name);
            next_kill = start.elapsed() + Duration::from_millis(rng.u64(2000..=3000));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while let Some((_, workflow)) = plan.pop() {
        ids.push(c.run(&format!("chaos/{workflow}")).await);
    }
    println!(
        "{:5.1}s kills stop; waiting for {} instances",
        start.elapsed().as_secs_f64(),
        ids.len()
    );

    // Everything ends, within a bound.
    let deadline = Deadline::new(Duration::from_secs(90), "every instance to finish");
    loop {
        let open: Vec<(i64, String)> =
            c.pg.query(
                "select id, state from pgdag.workflow_instance_v where id = any($1) \
                 and state not in ('succeeded', 'failed', 'stopped', 'paused') order by id",
                &[&ids],
            )
            .await
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if open.is_empty() {
            break;
        }
        if deadline.expired() {
            let stuck: Vec<String> = c
                .all_tasks()
                .await
                .into_iter()
                .filter(|t| !FINAL_TASK_STATES.contains(&t.state.as_str()))
                .map(|t| format!("{t:?}"))
                .collect();
            panic!(
                "seed {seed}: instances not finished after the kills stopped: {open:?}\nunfinished tasks:\n{}",
                stuck.join("\n")
            );
        }
        deadline.tick(open.len()).await;
    }
    println!("{:5.1}s all instances final", start.elapsed().as_secs_f64());

    // Every instance succeeded; nothing is stuck.
    let states: Vec<(i64, String)> =
        c.pg.query(
            "select id, state from pgdag.workflow_instance_v where id = any($1) order by id",
            &[&ids],
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(states.len(), INSTANCES, "seed {seed}");
    let failed: Vec<&(i64, String)> = states.iter().filter(|(_, s)| s != "succeeded").collect();
    assert!(failed.is_empty(), "seed {seed}: not succeeded: {failed:?}");
    let tasks = c.all_tasks().await;
    let not_done: Vec<&TaskRow> = tasks.iter().filter(|t| t.state != "succeeded").collect();
    assert!(
        not_done.is_empty(),
        "seed {seed}: task instances not succeeded: {not_done:#?}"
    );
    let leftovers: i64 =
        c.pg.one("select count(*) from pgdag.task_queue", &[])
            .await
            .get(0);
    assert_eq!(leftovers, 0, "seed {seed}: rows left in the task queue");

    // Side effects: the accepted attempt of every task ran (its line is there), no attempt
    // ran twice, and no attempt ran that was never dispatched.
    let lines = read_effects(&effects);
    let mut ran: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for &(id, attempt) in &lines {
        ran.entry(id).or_default().push(attempt);
    }
    let mut problems = Vec::new();
    for t in &tasks {
        let attempts = ran.get(&t.id).cloned().unwrap_or_default();
        if !attempts.contains(&t.attempt) {
            problems.push(format!(
                "task instance {} ({}) succeeded as attempt {} but that attempt left no side effect (attempts that ran: {attempts:?})",
                t.id, t.name, t.attempt
            ));
        }
        let unique: BTreeSet<i32> = attempts.iter().copied().collect();
        if unique.len() != attempts.len() {
            problems.push(format!(
                "task instance {}: an attempt ran twice: {attempts:?}",
                t.id
            ));
        }
        if let Some(&max) = unique.iter().next_back()
            && max > t.attempt
        {
            problems.push(format!(
                "task instance {}: attempt {max} ran but the accepted attempt is {}",
                t.id, t.attempt
            ));
        }
    }
    let task_ids: BTreeSet<i64> = tasks.iter().map(|t| t.id).collect();
    for id in ran.keys() {
        if !task_ids.contains(id) {
            problems.push(format!("side effect of unknown task instance {id}"));
        }
    }

    // The audit trail: one accepted success per task, attempts 1, 2, ... per dispatch, and
    // the final attempt is the last one dispatched.
    let audit = summarize(&c.transitions().await);
    problems.extend(audit.violations.iter().cloned());
    for t in &tasks {
        if audit.successes.get(&t.id).map(Vec::len) != Some(1) {
            problems.push(format!(
                "task instance {}: accepted successes {:?}",
                t.id,
                audit.successes.get(&t.id)
            ));
        }
        let dispatched = audit.dispatches.get(&t.id).cloned().unwrap_or_default();
        if dispatched.last() != Some(&t.attempt) {
            problems.push(format!(
                "task instance {}: final attempt {} but dispatched as {dispatched:?}",
                t.id, t.attempt
            ));
        }
    }

    let total_kills: usize = kills.values().sum();
    let master_kills: usize = kills
        .iter()
        .filter(|(n, _)| n.starts_with('m'))
        .map(|(_, k)| k)
        .sum();
    let alerts = c.failover_alerts().await;
    println!(
        "seed {seed}: {} instances, {} tasks, {} attempts run ({} accepted), {total_kills} kills ({master_kills} of masters, {} of workers: {kills:?}), {} re-dispatches, {alerts} failover alerts, {:.1} s",
        ids.len(),
        tasks.len(),
        lines.len(),
        tasks.len(),
        total_kills - master_kills,
        audit.redispatches(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
