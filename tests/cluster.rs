//! Process-level fault tolerance of the cluster protocol (DESIGN §3): real `pgdag server`
//! processes, real signals, a real Postgres. Every wait is bounded; the only time bounds
//! asserted are the protocol's own (dead_after, leader_retry, shutdown grace), measured
//! on the database clock where the database records the event.
//!
//! Timings every process runs with (tests/cluster/support.rs): heartbeat 500ms,
//! dead_after 4s, leader_retry 1s, poll 200ms.

#[path = "it/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "cluster/pgbouncer.rs"]
mod pgbouncer;
#[path = "cluster/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;

use support::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// 1. kill -9 of the worker running a long task: the task is re-dispatched to the other
/// worker within dead_after + 2 s, as attempt 2, and the instance succeeds.
///
/// A leader in its first dead_after judges liveness by heartbeats only (after a Postgres
/// restart every lock is free), so the kill waits until the leader is older than that: the
/// worker's death is then seen through its vanished session lock, the crash path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_task_is_redispatched_to_the_other_worker() {
    let mut c = Cluster::new().await;
    let done = c.path("done");
    let yaml = format!(
        "project: t\nname: long\ntasks:\n{}",
        shell_task(
            "work",
            &[],
            &format!("sleep 6\necho done >> {}", done.display())
        )
    );
    c.apply(&yaml).await;
    c.start("m", "master", &[]);
    c.leader(secs(15)).await;
    c.start("w1", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    let w1_id = c.registered("w1").await;
    // The leader must have led for dead_after (a new leader judges by heartbeats alone
    // until then): wait for that state, on the database clock.
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

    // w2 starts only once w1 runs the task, so the first attempt is w1's.
    let first = c
        .wait_task(id, "work", secs(20), "attempt 1 running", |t| {
            t.state == "running"
        })
        .await;
    assert_eq!(first.attempt, 1, "{first:?}");
    assert_eq!(first.host.as_deref(), Some("w1"), "{first:?}");
    assert_eq!(first.server_id, Some(w1_id), "{first:?}");
    c.start("w2", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    let w2_id = c.registered("w2").await;

    let killed_at = c.pg.now().await;
    c.server("w1").kill9();
    let second = c
        .wait_task(id, "work", secs(30), "attempt 2 dispatched", |t| {
            t.attempt >= 2 && t.dispatched_at.is_some() && t.host.as_deref() != Some("w1")
        })
        .await;
    let latency = second.dispatched_at.unwrap() - killed_at;
    println!("kill -9 -> attempt 2 dispatched: {latency:.2} s (database clock)");
    assert!(
        latency <= DEAD_AFTER_SECS + 2.0,
        "attempt 2 was dispatched {latency:.2} s after the kill, more than dead_after + 2 s: {second:?}"
    );
    assert_eq!(second.attempt, 2, "{second:?}");
    assert_eq!(second.host.as_deref(), Some("w2"), "{second:?}");
    assert_eq!(second.server_id, Some(w2_id), "{second:?}");

    let state = c.wait_final(id, secs(30)).await;
    assert_eq!(state, "succeeded");
    let last = c.task(id, "work").await.unwrap();
    assert_eq!(
        (last.state.as_str(), last.attempt, last.host.as_deref()),
        ("succeeded", 2, Some("w2")),
        "{last:?}"
    );
    assert!(
        std::fs::read_to_string(&done)
            .unwrap_or_default()
            .contains("done"),
        "the task's side effect never happened"
    );
    assert!(
        c.failover_alerts().await >= 1,
        "no pgdag.alert row of kind failover"
    );
    let audit = summarize(&c.transitions().await);
    assert!(audit.violations.is_empty(), "{:#?}", audit.violations);
    assert_eq!(audit.dispatches.get(&last.id), Some(&vec![1, 2]));
    assert_eq!(audit.successes.get(&last.id), Some(&vec![2]));
}

/// 2. SIGSTOP of the worker running a task, past dead_after: the task is re-run elsewhere and
/// succeeds; after SIGCONT the stopped worker's late completion changes nothing, the instance
/// never shows `failed`, and the worker re-registers with a new server id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_worker_is_fenced_and_its_late_completion_rejected() {
    let mut c = Cluster::new().await;
    let effects = c.path("effects");
    let yaml = format!(
        "project: t\nname: paused\ntasks:\n{}",
        shell_task(
            "work",
            &[],
            &format!(
                "sleep 2\necho \"$PGDAG_TASK_INSTANCE_ID $PGDAG_ATTEMPT\" >> {}",
                effects.display()
            )
        )
    );
    c.apply(&yaml).await;
    c.start("m", "master", &[]);
    c.start("w1", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    let w1_id = c.registered("w1").await;
    let id = c.run("t/paused").await;

    // Watch the instance and the task all along: `failed` must never show.
    let seen: Arc<std::sync::Mutex<BTreeSet<String>>> = Default::default();
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = {
        let seen = seen.clone();
        let stop = stop_watch.clone();
        let mut pg = Pg::new(&c.db.url);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(rows) = pg
                    .try_query(
                        "select 'instance ' || w.state, (select 'task ' || string_agg(t.state, ',') from pgdag.task_instance t where t.workflow_instance_id = w.id) \
                         from pgdag.workflow_instance_v w where w.id = $1",
                        &[&id],
                    )
                    .await
                    && let Some(r) = rows.first()
                {
                    let mut seen = seen.lock().unwrap();
                    seen.insert(r.get::<_, String>(0));
                    if let Some(t) = r.get::<_, Option<String>>(1) {
                        seen.insert(t);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let first = c
        .wait_task(id, "work", secs(20), "attempt 1 running", |t| {
            t.state == "running"
        })
        .await;
    assert_eq!(first.host.as_deref(), Some("w1"), "{first:?}");
    c.start("w2", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    let w2_id = c.registered("w2").await;
    c.server("w1").signal(Signal::SIGSTOP);
    let stopped_at = c.pg.now().await;

    let done = c
        .wait_task(id, "work", secs(30), "attempt 2 succeeded on w2", |t| {
            t.state == "succeeded"
        })
        .await;
    println!(
        "SIGSTOP -> attempt 2 dispatched: {:.2} s (database clock)",
        done.dispatched_at.unwrap_or(f64::NAN) - stopped_at
    );
    assert_eq!(done.attempt, 2, "{done:?}");
    assert_eq!(done.host.as_deref(), Some("w2"), "{done:?}");
    assert_eq!(done.server_id, Some(w2_id), "{done:?}");
    assert_eq!(c.wait_final(id, secs(20)).await, "succeeded");
    let before = c.task(id, "work").await.unwrap();

    // Wake the zombie: it must notice it was declared dead, re-register with a new id, and
    // its report of attempt 1 (whose script finished while it was stopped) must be rejected.
    c.server("w1").signal(Signal::SIGCONT);
    let deadline = Deadline::new(secs(15), "w1 to re-register with a new server id");
    loop {
        let rows =
            c.pg.query(
                "select id from pgdag.server where name = 'w1' and id <> $1",
                &[&w1_id],
            )
            .await;
        if !rows.is_empty() {
            break;
        }
        deadline.tick("no new row for w1").await;
    }
    // Every report the zombie still had is written (and refused) before it exits: a
    // graceful stop drains its shipper. Its exit is the signal, not the passing of time.
    c.server("w1").signal(Signal::SIGTERM);
    c.server("w1").wait_exit(secs(60)).await;
    let after = c.task(id, "work").await.unwrap();
    assert_eq!(
        before, after,
        "the stopped worker's late report changed the task instance"
    );
    assert_eq!(c.instance_state(id).await.as_deref(), Some("succeeded"));

    stop_watch.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen
            .iter()
            .any(|s| s == "instance failed" || s.contains("failed")),
        "the instance or its task showed failed: {seen:?}"
    );
    let instance_states = c.instance_states_seen(id).await;
    assert!(
        !instance_states.iter().any(|s| s == "failed"),
        "the instance was written as failed at some point: {instance_states:?}"
    );
    let transitions = c.transitions().await;
    let audit = summarize(&transitions);
    assert!(audit.violations.is_empty(), "{:#?}", audit.violations);
    assert_eq!(
        audit.successes.get(&after.id),
        Some(&vec![2]),
        "success accepted other than once, for attempt 2: {transitions:#?}"
    );
    assert!(
        !transitions
            .iter()
            .any(|t| t.id == after.id && t.new_state == "failed"),
        "{transitions:#?}"
    );
    assert!(c.failover_alerts().await >= 1, "no failover alert");
}

/// 3. A dead master needs no recovery: with two masters, kill -9 one (the leader) while five
/// chains run; every instance succeeds and no task is run twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_master_needs_no_recovery() {
    let mut c = Cluster::new().await;
    let mut yaml = String::from("project: t\nname: chain\ntasks:\n");
    for i in 0..5 {
        let deps: Vec<String> = if i == 0 {
            vec![]
        } else {
            vec![format!("t{}", i - 1)]
        };
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        yaml.push_str(&shell_task(&format!("t{i}"), &deps, "sleep 0.3"));
    }
    c.apply(&yaml).await;
    c.start("m1", "master", &[]);
    c.start("m2", "master", &[]);
    c.start("w", "worker", &[("PGDAG_MAX_TASKS", "5")]);
    for name in ["m1", "m2", "w"] {
        c.registered(name).await;
    }
    let (_, leader) = c.leader(secs(15)).await;
    let leader_name = c.server_name(leader).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(c.run("t/chain").await);
    }

    let deadline = Deadline::new(secs(30), "8 of 25 tasks to succeed");
    loop {
        let n: i64 =
            c.pg.one(
                "select count(*) from pgdag.task_instance where state = 'succeeded'",
                &[],
            )
            .await
            .get(0);
        if n >= 8 {
            assert!(
                n < 25,
                "every task was done before the kill; the test proves nothing"
            );
            break;
        }
        deadline.tick(n).await;
    }
    println!("kill -9 {leader_name} (the leader)");
    c.server(&leader_name).kill9();

    for &id in &ids {
        assert_eq!(
            c.wait_final(id, secs(60)).await,
            "succeeded",
            "instance {id}"
        );
    }
    let tasks = c.all_tasks().await;
    assert_eq!(tasks.len(), 25);
    for t in &tasks {
        assert_eq!(
            (t.state.as_str(), t.attempt),
            ("succeeded", 1),
            "a master's death must not re-run a task: {t:?}"
        );
    }
    let audit = summarize(&c.transitions().await);
    assert!(audit.violations.is_empty(), "{:#?}", audit.violations);
    assert_eq!(audit.redispatches(), 0);
}

/// 4. Leader failover: kill -9 the leader of two masters; within leader_retry + 2 s the term
/// grows and the other master is the leader; the dead one leaves `servers --json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_bumps_the_term_within_leader_retry() {
    let mut c = Cluster::new().await;
    c.start("m1", "master", &[]);
    c.start("m2", "master", &[]);
    let ids: BTreeMap<String, i64> = [
        ("m1".to_string(), c.registered("m1").await),
        ("m2".to_string(), c.registered("m2").await),
    ]
    .into();
    let (term, leader) = c.leader(secs(15)).await;
    let (leader_name, other_name) = if ids["m1"] == leader {
        ("m1", "m2")
    } else {
        assert_eq!(ids["m2"], leader, "the leader is neither master: {ids:?}");
        ("m2", "m1")
    };
    let other = ids[other_name];
    assert!(term >= 1, "term {term}");
    let before = c.servers_json();
    let leaders: Vec<&serde_json::Value> = before["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["leader"] == true)
        .collect();
    assert_eq!(leaders.len(), 1, "{before:#}");
    assert_eq!(leaders[0]["id"], leader, "{before:#}");

    c.server(leader_name).kill9();
    let killed = std::time::Instant::now();
    let deadline = Deadline::new(secs(15), format!("{other_name} to take the lead"));
    let elapsed = loop {
        let seen = c.leader_term().await;
        if let Some((new_term, Some(server))) = seen
            && new_term > term
            && server == other
        {
            break killed.elapsed();
        }
        deadline.tick(seen).await;
    };
    println!("kill -9 leader -> new term held by {other_name}: {elapsed:?}");
    assert!(
        elapsed.as_secs_f64() <= LEADER_RETRY_SECS + 2.0,
        "the new leader took {elapsed:?}, more than leader_retry + 2 s"
    );

    // The dead master leaves the live list; exactly one leader, the survivor.
    let deadline = Deadline::new(secs(10), format!("{leader_name} to leave servers --json"));
    loop {
        let now = c.servers_json();
        let servers = now["servers"].as_array().unwrap();
        let names: Vec<&str> = servers.iter().filter_map(|s| s["name"].as_str()).collect();
        let leaders: Vec<i64> = servers
            .iter()
            .filter(|s| s["leader"] == true)
            .filter_map(|s| s["id"].as_i64())
            .collect();
        if names == [other_name] {
            assert_eq!(leaders, [other], "{now:#}");
            break;
        }
        deadline.tick(names.join(",")).await;
    }
}

/// 5. Graceful shutdown: SIGTERM a worker with a 1 s grace while it runs `sleep 30`; the task
/// is handed back at once and re-dispatched to the other worker within grace + 2 s (dead_after
/// is 20 s, so failover by death cannot be what happened), and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_running_tasks_back_after_the_grace() {
    let mut c = Cluster::new().await;
    c.set_common_env("PGDAG_DEAD_AFTER", "20s");
    let pgid_file = c.path("pgid");
    let yaml = format!(
        "project: t\nname: slow\ntasks:\n{}",
        shell_task(
            "work",
            &[],
            &format!(
                "if [ \"$PGDAG_ATTEMPT\" = 1 ]; then\n  echo $$ > {}\n  sleep 30\nfi\necho second attempt",
                pgid_file.display()
            )
        )
    );
    c.apply(&yaml).await;
    c.start("m", "master", &[]);
    c.start(
        "w1",
        "worker",
        &[("PGDAG_MAX_TASKS", "1"), ("PGDAG_SHUTDOWN_GRACE", "1s")],
    );
    c.registered("w1").await;
    let id = c.run("t/slow").await;
    let first = c
        .wait_task(id, "work", secs(20), "attempt 1 running", |t| {
            t.state == "running"
        })
        .await;
    assert_eq!(first.host.as_deref(), Some("w1"), "{first:?}");
    let deadline = Deadline::new(secs(10), "the task to write its process group id");
    let pgid: i32 = loop {
        let text = std::fs::read_to_string(&pgid_file).unwrap_or_default();
        if let Ok(pgid) = text.trim().parse() {
            break pgid;
        }
        deadline.tick(text).await;
    };
    let _cleanup = GroupGuard(pgid);
    c.start("w2", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    c.registered("w2").await;

    let term_at = c.pg.now().await;
    c.server("w1").signal(Signal::SIGTERM);
    let second = c
        .wait_task(id, "work", secs(15), "attempt 2 dispatched", |t| {
            t.attempt >= 2 && t.dispatched_at.is_some()
        })
        .await;
    let latency = second.dispatched_at.unwrap() - term_at;
    println!("SIGTERM -> attempt 2 dispatched: {latency:.2} s (database clock)");
    assert!(
        latency <= 1.0 + 2.0,
        "re-dispatched {latency:.2} s after SIGTERM, more than grace + 2 s: {second:?}"
    );
    assert_eq!(second.attempt, 2, "{second:?}");
    assert_eq!(second.host.as_deref(), Some("w2"), "{second:?}");

    let status = c.server("w1").wait_exit(secs(15)).await;
    assert_eq!(status.code(), Some(0), "w1 exited with {status}");
    let deadline = Deadline::new(secs(5), "attempt 1's process group to be gone");
    while group_alive(pgid) {
        deadline.tick(pgid).await;
    }
    assert_eq!(c.wait_final(id, secs(20)).await, "succeeded");
    let last = c.task(id, "work").await.unwrap();
    assert_eq!(
        (last.state.as_str(), last.attempt, last.host.as_deref()),
        ("succeeded", 2, Some("w2"))
    );
    let audit = summarize(&c.transitions().await);
    assert!(audit.violations.is_empty(), "{:#?}", audit.violations);
}

/// 6. Orphans: kill -9 a worker running `sleep 300`; the sleep survives; a new worker with the
/// same state dir kills the old process group within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_kills_the_process_groups_its_crashed_predecessor_left() {
    let mut c = Cluster::new().await;
    let pgid_file = c.path("pgid");
    let yaml = format!(
        "project: t\nname: orphan\ntasks:\n{}",
        shell_task(
            "work",
            &[],
            &format!(
                "if [ \"$PGDAG_ATTEMPT\" = 1 ]; then\n  echo $$ > {}\n  sleep 300\nfi\necho later attempt",
                pgid_file.display()
            )
        )
    );
    c.apply(&yaml).await;
    c.start("m", "master", &[]);
    c.start("w1", "worker", &[("PGDAG_MAX_TASKS", "1")]);
    c.registered("w1").await;
    let id = c.run("t/orphan").await;
    c.wait_task(id, "work", secs(20), "attempt 1 running", |t| {
        t.state == "running"
    })
    .await;
    let deadline = Deadline::new(secs(10), "the task to write its process group id");
    let pgid: i32 = loop {
        let text = std::fs::read_to_string(&pgid_file).unwrap_or_default();
        if let Ok(pgid) = text.trim().parse() {
            break pgid;
        }
        deadline.tick(text).await;
    };
    let _cleanup = GroupGuard(pgid);
    assert!(group_alive(pgid));

    // kill9 reaps the worker: once it returns the worker is gone, and its task's group is
    // still there (nothing else kills it until a worker starts again on this host).
    c.server("w1").kill9();
    assert!(
        group_alive(pgid),
        "the task's process group died with its worker; the test proves nothing"
    );
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pgid), None).is_ok());

    // Same name, same state dir (Cluster::restart keeps both).
    c.restart("w1");
    c.registered("w1").await;
    let deadline = Deadline::new(secs(5), format!("process group {pgid} to be killed"));
    while group_alive(pgid) {
        deadline.tick("still alive").await;
    }
    assert_eq!(c.wait_final(id, secs(30)).await, "succeeded");
    let last = c.task(id, "work").await.unwrap();
    assert_eq!(last.attempt, 2, "{last:?}");
}

/// 7. `pgdag servers --json` (and GET /api/v1/servers): the contract's shape, live servers
/// only, exactly one leader, running tasks counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_json_has_the_contract_shape_and_one_leader() {
    let mut c = Cluster::new().await;
    let yaml = format!(
        "project: t\nname: nap\ntasks:\n{}",
        shell_task("work", &[], "sleep 4")
    );
    c.apply(&yaml).await;
    let m1_pid = c.start("m1", "master", &[]);
    let m2_pid = c.start("m2", "master,api", &[]);
    let w_pid = c.start_with_args(
        "w1",
        "worker",
        &["--worker-groups", "default,gpu"],
        &[("PGDAG_MAX_TASKS", "3")],
    );
    let mut ids = BTreeMap::new();
    for name in ["m1", "m2", "w1"] {
        ids.insert(name, c.registered(name).await);
    }
    let (_, leader) = c.leader(secs(15)).await;
    let pids = BTreeMap::from([("m1", m1_pid), ("m2", m2_pid), ("w1", w_pid)]);

    let json = c.servers_json();
    let servers = json["servers"].as_array().expect("servers is an array");
    assert_eq!(servers.len(), 3, "{json:#}");
    for s in servers {
        for key in [
            "id",
            "name",
            "roles",
            "host",
            "pid",
            "leader",
            "worker_groups",
            "heartbeat_age_ms",
            "running_tasks",
            "started_at",
        ] {
            assert!(s.get(key).is_some(), "server lacks {key}: {s:#}");
        }
        let name = s["name"].as_str().expect("name is a string");
        assert_eq!(s["id"].as_i64(), Some(ids[name]), "{s:#}");
        assert_eq!(s["pid"].as_i64(), Some(pids[name] as i64), "{s:#}");
        assert!(!s["host"].as_str().expect("host is a string").is_empty());
        assert!(s["leader"].is_boolean(), "{s:#}");
        let age = s["heartbeat_age_ms"]
            .as_f64()
            .expect("heartbeat_age_ms is a number");
        assert!(
            (0.0..DEAD_AFTER_SECS * 1000.0).contains(&age),
            "a live server's heartbeat age is {age} ms: {s:#}"
        );
        assert!(s["running_tasks"].as_i64().is_some(), "{s:#}");
        let started = s["started_at"].as_str().expect("started_at is a string");
        assert!(
            chrono::DateTime::parse_from_rfc3339(started).is_ok(),
            "started_at is not RFC 3339: {started}"
        );
        let roles: BTreeSet<&str> = s["roles"]
            .as_array()
            .expect("roles is an array")
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let expected: BTreeSet<&str> = match name {
            "m1" => ["master"].into(),
            "m2" => ["master", "api"].into(),
            _ => ["worker"].into(),
        };
        assert_eq!(roles, expected, "{s:#}");
        let groups: BTreeSet<&str> = s["worker_groups"]
            .as_array()
            .expect("worker_groups is an array")
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        if name == "w1" {
            assert_eq!(groups, BTreeSet::from(["default", "gpu"]), "{s:#}");
        }
    }
    let leaders: Vec<&serde_json::Value> = servers.iter().filter(|s| s["leader"] == true).collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {json:#}");
    assert_eq!(leaders[0]["id"].as_i64(), Some(leader), "{json:#}");
    assert_ne!(leaders[0]["name"], "w1", "a worker cannot lead");

    // The REST endpoint answers the same servers and the same leader.
    let log = c.server("m2").log.clone();
    let deadline = Deadline::new(secs(10), "the api address on m2's stdout");
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("pgdag api listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        deadline.tick("no line").await;
    };
    let token = {
        let store = c.db.store();
        let client = store.client().await.unwrap();
        pgdag::store::users::add(&client, "ops", Some("secret"), false)
            .await
            .unwrap();
        pgdag::store::users::create_token(&client, "ops", None, None)
            .await
            .unwrap()
            .token
    };
    let rest: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/servers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rest_ids: BTreeSet<i64> = rest["servers"]
        .as_array()
        .expect("REST servers is an array")
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .collect();
    assert_eq!(rest_ids, ids.values().copied().collect(), "{rest:#}");
    let rest_leaders: Vec<i64> = rest["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["leader"] == true)
        .filter_map(|s| s["id"].as_i64())
        .collect();
    assert_eq!(rest_leaders, [leader], "{rest:#}");

    // A running task shows in the worker's running_tasks.
    let id = c.run("t/nap").await;
    c.wait_task(id, "work", secs(20), "running", |t| t.state == "running")
        .await;
    let deadline = Deadline::new(secs(5), "w1 to report one running task");
    loop {
        let json = c.servers_json();
        let running = json["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "w1")
            .and_then(|s| s["running_tasks"].as_i64());
        if running == Some(1) {
            break;
        }
        deadline.tick(running).await;
    }
}

/// 8. Cron across a leader change: two masters and a worker, a schedule firing every 2 s.
/// kill -9 the leader: firing resumes within 3 s (the next fire time after the kill is fired
/// by the new leader no later than 3 s after the kill), and no fire time ever produces two
/// instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_keep_firing_once_per_fire_time_across_a_leader_kill() {
    let mut c = Cluster::new().await;
    c.start("m1", "master", &[]);
    c.start("m2", "master", &[]);
    c.start("w1", "worker", &[]);
    let ids: BTreeMap<String, i64> = [
        ("m1".to_string(), c.registered("m1").await),
        ("m2".to_string(), c.registered("m2").await),
    ]
    .into();
    c.apply(
        "project: t\nname: tick\nschedule: { cron: \"*/2 * * * * ?\", timezone: Europe/Berlin }\ntasks:\n  - { name: t, type: shell, script: 'true' }\n",
    )
    .await;
    // Let a few fires happen under the first leader.
    let deadline = Deadline::new(secs(20), "three scheduled instances");
    loop {
        let n: i64 =
            c.pg.one(
                "select count(*) from pgdag.workflow_instance where command_type = 'schedule'",
                &[],
            )
            .await
            .get(0);
        if n >= 3 {
            break;
        }
        deadline.tick(n).await;
    }
    let (term, leader) = c.leader(secs(15)).await;
    let leader_name = if ids["m1"] == leader { "m1" } else { "m2" };
    let killed_at = c.pg.now().await;
    c.server(leader_name).kill9();

    // The first fire time after the kill must be fired within 3 s of the kill.
    let deadline = Deadline::new(secs(20), "a fire after the leader kill");
    let first_after: f64 = loop {
        let row = c
            .pg
            .one(
                "select min(extract(epoch from fired_at))::float8, count(*) from pgdag.schedule_fire
                 where fire_time > to_timestamp($1)",
                &[&killed_at],
            )
            .await;
        let (fired, n): (Option<f64>, i64) = (row.get(0), row.get(1));
        if let Some(fired) = fired
            && n >= 2
        {
            break fired;
        }
        deadline.tick(n).await;
    };
    let resumed = first_after - killed_at;
    println!("kill -9 leader -> first fire after it: {resumed:.3} s");
    assert!(
        resumed <= 3.0,
        "firing resumed {resumed:.3} s after the leader kill"
    );
    let (new_term, _) = c.leader(secs(5)).await;
    assert!(new_term > term);

    // Exactly one instance per fire time, every one of them recorded as its schedule time.
    let rows =
        c.pg.query(
            "select schedule_time, count(*) from pgdag.workflow_instance
             where command_type = 'schedule' group by schedule_time having count(*) > 1",
            &[],
        )
        .await;
    assert!(
        rows.is_empty(),
        "fire times with two instances: {}",
        rows.len()
    );
    // One statement, one snapshot: read apart, a command carried out between the read of
    // the instances and the read of the pending commands was counted in neither (seen once
    // in CI: 5 fires, 4 counted).
    let counts =
        c.pg.one(
            "select (select count(*) from pgdag.schedule_fire),
                    (select count(*) from pgdag.workflow_instance where command_type = 'schedule'),
                    (select count(*) from pgdag.command
                     where command_type = 'schedule' and state = 'pending'),
                    (select string_agg(error, '; ') from pgdag.command
                     where command_type = 'schedule' and state = 'failed')",
            &[],
        )
        .await;
    let (fires, instances, pending): (i64, i64, i64) =
        (counts.get(0), counts.get(1), counts.get(2));
    let failed: Option<String> = counts.get(3);
    assert_eq!(
        fires,
        instances + pending,
        "every fire became exactly one instance (failed start commands: {failed:?})"
    );
}
