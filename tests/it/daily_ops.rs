//! Issue 18's engine parts: at most N runs at once (`max_active_runs`), holding and
//! releasing one task (CLI, REST, SQL), retries that back off exponentially, and
//! `sla_miss` alerts — through the real interfaces, with the injectable clock where time
//! matters.

use std::time::{Duration, Instant};

use pgdag::model::CommandType;
use pgdag::store::{commands, instances};

use crate::harness::*;

fn state_of<'a>(d: &'a instances::InstanceDetail, name: &str) -> Option<&'a str> {
    d.tasks
        .iter()
        .flatten()
        .find(|t| t.name == name)
        .map(|t| t.state.as_str())
}

// ---- max_active_runs ----

/// `max_active_runs: 2` with five starts: never more than two run at once (every poll
/// checks), the others wait and are admitted in submission order even when a later run
/// ends first, and all five succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_active_runs_keeps_at_most_n_running_and_admits_in_submission_order() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    cluster
        .apply(&format!(
            "project: m\nname: w\nmax_active_runs: 2\ntasks:\n  - {{ name: wait, type: shell, script: 'while [ ! -f {}/${{system.workflow.instance.id}} ]; do sleep 0.05; done' }}\n",
            dir.path().display()
        ))
        .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(cluster.run("m/w", serde_json::json!({})).await);
    }
    let states = |cluster: &TestCluster, ids: Vec<i64>| {
        let store = cluster.store.clone();
        async move {
            let client = store.client().await.unwrap();
            let mut out = Vec::new();
            for id in ids {
                out.push(instances::get(&client, id).await.unwrap().unwrap().state);
            }
            out
        }
    };
    // Poll until `want` holds, checking the limit on every look.
    let until = |want: Vec<&'static str>| {
        let ids = ids.clone();
        let cluster = &cluster;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let now = states(cluster, ids.clone()).await;
                let running = now.iter().filter(|s| *s == "running").count();
                assert!(running <= 2, "more than 2 running: {now:?}");
                if now.iter().map(String::as_str).eq(want.iter().copied()) {
                    return;
                }
                assert!(Instant::now() < deadline, "never reached {want:?}: {now:?}");
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
    };
    let release = |id: i64| std::fs::write(dir.path().join(id.to_string()), "").unwrap();
    until(vec!["running", "running", "waiting", "waiting", "waiting"]).await;
    // The second run ends first: the third (first in line), not a later one, starts.
    release(ids[1]);
    until(vec![
        "running",
        "succeeded",
        "running",
        "waiting",
        "waiting",
    ])
    .await;
    release(ids[0]);
    until(vec![
        "succeeded",
        "succeeded",
        "running",
        "running",
        "waiting",
    ])
    .await;
    release(ids[3]);
    until(vec![
        "succeeded",
        "succeeded",
        "running",
        "succeeded",
        "running",
    ])
    .await;
    release(ids[2]);
    release(ids[4]);
    until(vec!["succeeded"; 5]).await;
    // Admitted in submission order: start times follow the ids.
    let mut started = Vec::new();
    for &id in &ids {
        started.push(cluster.detail(id).await.started_at.unwrap());
    }
    let mut sorted = started.clone();
    sorted.sort();
    assert_eq!(started, sorted, "admission order is submission order");
}

// ---- hold and release ----

const HOLD_FLOW: &str = "project: h\nname: w\ntasks:\n  - { name: a, type: shell, script: 'while [ ! -f GO ]; do sleep 0.05; done' }\n  - { name: b, type: shell, script: 'echo b', depends_on: [a] }\n  - { name: c, type: shell, script: 'echo c', depends_on: [a] }\n";

/// A held task is not dispatched while the rest of the DAG goes on, the instance stays
/// running while it is held, and a release queues it: hold through the CLI, release
/// through REST, then the same through SQL command rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_task_waits_for_its_release_and_the_rest_goes_on() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let go = dir.path().join("go");
    cluster
        .apply(&HOLD_FLOW.replace("GO", &go.display().to_string()))
        .await;
    let id = cluster.run("h/w", serde_json::json!({})).await;
    let running = cluster
        .wait_for(id, "a runs", |d| state_of(d, "a") == Some("running"))
        .await;
    let b = task(&running, "b").id;

    // CLI: hold b while it is pending.
    let out = pgdag(&cluster.db)
        .args(["ctl", "hold", &b.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster
        .wait_for(id, "b is held", |d| task(d, "b").held)
        .await;
    std::fs::write(&go, "").unwrap();
    cluster
        .wait_for(id, "c ran", |d| state_of(d, "c") == Some("succeeded"))
        .await;
    // A whole evaluator round after c's end: b is still not dispatched, the instance runs.
    cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
    let held = cluster.detail(id).await;
    assert_eq!(held.state, "running", "{held:?}");
    assert_eq!(task(&held, "b").state, "pending");
    assert_eq!(task(&held, "b").attempt, 0);

    // Holding it again, or holding a finished task, is refused with the reason.
    let token = cluster.api_token("holder").await;
    let http = reqwest::Client::new();
    let post = |path: String| http.post(path).bearer_auth(&token).send();
    let base = format!("http://{}/api/v1/task-instances", cluster.api());
    let again = post(format!("{base}/{b}/hold")).await.unwrap();
    assert_eq!(again.status(), 409);
    let body: serde_json::Value = again.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already held"),
        "{body}"
    );
    let c = task(&held, "c").id;
    let ended = post(format!("{base}/{c}/hold")).await.unwrap();
    assert_eq!(ended.status(), 409);
    let out = pgdag(&cluster.db)
        .args(["ctl", "hold", &c.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has ended"));
    let out = pgdag(&cluster.db)
        .args(["ctl", "release", &c.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not held"));

    // REST: release it; it runs and the instance succeeds.
    let released = post(format!("{base}/{b}/release")).await.unwrap();
    assert_eq!(released.status(), 202);
    let body: serde_json::Value = released.json().await.unwrap();
    assert_eq!(body["instance_id"], id);
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "succeeded");
    assert_eq!(task(&done, "b").state, "succeeded");
    assert!(!task(&done, "b").held);

    // SQL command rows: `hold` and `release` with options.task_instance_id.
    std::fs::remove_file(&go).unwrap();
    let id = cluster.run("h/w", serde_json::json!({})).await;
    let running = cluster
        .wait_for(id, "a runs", |d| state_of(d, "a") == Some("running"))
        .await;
    let b = task(&running, "b").id;
    let client = cluster.store.client().await.unwrap();
    let sql = "insert into pgdag.command (command_type, workflow_instance_id, options) values ($1, $2, jsonb_build_object('task_instance_id', $3::bigint))";
    client.execute(sql, &[&"hold", &id, &b]).await.unwrap();
    cluster
        .wait_for(id, "b is held", |d| task(d, "b").held)
        .await;
    std::fs::write(&go, "").unwrap();
    cluster
        .wait_for(id, "c ran", |d| state_of(d, "c") == Some("succeeded"))
        .await;
    cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
    assert_eq!(cluster.detail(id).await.state, "running");
    client.execute(sql, &[&"release", &id, &b]).await.unwrap();
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
}

// ---- exponential backoff ----

/// `retry_backoff: exponential`: the second retry waits longer than the first, as the
/// next-attempt times stored with each failure show (the roles' clock stands still, so
/// the times are exact: retry 1 waits 5-10 s, retry 2 10-20 s for `retry_interval: 10s`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exponential_backoff_waits_longer_before_each_retry() {
    let (cluster, clock) = TestCluster::start_at(tomorrow()).await;
    cluster
        .apply("project: r\nname: w\ntasks:\n  - { name: f, type: shell, script: 'exit 3', retries: 2, retry_interval: 10s, retry_backoff: exponential, retry_max_interval: 1h }\n")
        .await;
    let id = cluster.run("r/w", serde_json::json!({})).await;
    let waits = |attempt: i32| {
        let store = cluster.store.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let client = store.client().await.unwrap();
                let row = client
                    .query_opt(
                        "select extract(epoch from retry_at - ended_at)::float8 from pgdag.task_instance where workflow_instance_id = $1 and state = 'retrying' and attempt = $2",
                        &[&id, &attempt],
                    )
                    .await
                    .unwrap();
                if let Some(row) = row {
                    return row.get::<_, f64>(0);
                }
                assert!(
                    Instant::now() < deadline,
                    "attempt {attempt} did not fail for a retry"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let first = waits(1).await;
    assert!((5.0..10.0).contains(&first), "first retry waits {first} s");
    cluster.advance(&clock, Duration::from_secs(10));
    let second = waits(2).await;
    assert!(
        (10.0..20.0).contains(&second),
        "second retry waits {second} s"
    );
    assert!(second > first);
    cluster.advance(&clock, Duration::from_secs(20));
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "failed");
    assert_eq!(task(&done, "f").attempt, 3);
}

// ---- SLA ----

async fn sla_alerts(cluster: &TestCluster, id: i64) -> Vec<serde_json::Value> {
    let client = cluster.store.client().await.unwrap();
    client
        .query(
            "select payload from pgdag.alert where kind = 'sla_miss' and workflow_instance_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `sla: { finish_within: 1h }`: a run still going an hour after its start gets one
/// `sla_miss` alert (and only one, however long it goes on); a run that ended in time
/// gets none; a scheduled run counts from its schedule time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_not_finished_within_its_sla_writes_one_sla_miss_alert() {
    let (cluster, clock) = TestCluster::start_at(tomorrow()).await;
    let dir = temp_dir();
    let go = dir.path().join("go");
    cluster
        .apply(&format!(
            "project: s\nname: slow\nsla: {{ finish_within: 1h }}\ntasks:\n  - {{ name: wait, type: shell, script: 'while [ ! -f {} ]; do sleep 0.05; done' }}\n---\nproject: s\nname: quick\nsla: {{ finish_within: 1h }}\ntasks:\n  - {{ name: a, type: shell, script: 'echo a' }}\n",
            go.display()
        ))
        .await;
    let slow = cluster.run("s/slow", serde_json::json!({})).await;
    let quick = cluster.run("s/quick", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(quick).await.state, "succeeded");
    cluster
        .wait_for(slow, "the task runs", |d| {
            state_of(d, "wait") == Some("running")
        })
        .await;
    cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
    assert!(sla_alerts(&cluster, slow).await.is_empty(), "not due yet");

    cluster.advance(&clock, Duration::from_secs(3600));
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let alerts = sla_alerts(&cluster, slow).await;
        if !alerts.is_empty() {
            break alerts;
        }
        assert!(Instant::now() < deadline, "no sla_miss alert");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let message = alerts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("not finished within 1h of its start"),
        "{message}"
    );
    assert_eq!(alerts[0]["instance"]["workflow"], "slow");
    // Later rounds write no second alert; the quick run, ended in time, has none.
    cluster.advance(&clock, Duration::from_secs(3600));
    cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
    assert_eq!(sla_alerts(&cluster, slow).await.len(), 1);
    assert!(sla_alerts(&cluster, quick).await.is_empty());

    // A run scheduled two hours ago is late from its schedule time: alerted at once.
    let client = cluster.store.client().await.unwrap();
    let at = (clock.now().unwrap() - chrono::Duration::hours(2)).to_rfc3339();
    let (_, late) = commands::insert(
        &client,
        "cli:test",
        CommandType::Start,
        Some("s"),
        Some("slow"),
        &serde_json::json!({}),
        &serde_json::json!({ "schedule_time": at }),
        None,
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sla_alerts(&cluster, late).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no sla_miss alert for the late run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerts = sla_alerts(&cluster, late).await;
    assert!(
        alerts[0]["message"]
            .as_str()
            .unwrap()
            .contains("of its schedule time"),
        "{alerts:?}"
    );
    std::fs::write(&go, "").unwrap();
    assert_eq!(cluster.wait_final(slow).await.state, "succeeded");
    assert_eq!(cluster.wait_final(late).await.state, "succeeded");
}
