//! Backfill: one instance per date, created up front, run serially or with a parallelism.

use std::time::Duration;

use crate::harness::*;

async fn post_backfill(
    cluster: &TestCluster,
    workflow: &str,
    backfill: serde_json::Value,
) -> (i64, Vec<i64>) {
    let token = cluster.api_token(&format!("bf-{workflow}")).await;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/projects/b/workflows/{workflow}/runs",
            cluster.api()
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({"params": {}, "backfill": backfill}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let ids = body["instance_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    (body["backfill_id"].as_i64().unwrap(), ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_backfill_runs_its_dates_in_order_one_at_a_time() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: b\nname: daily\ntasks:\n  - { name: load, type: shell, script: 'sleep 0.3; echo ${system.biz.date}' }\n")
        .await;
    let (_, ids) = post_backfill(
        &cluster,
        "daily",
        serde_json::json!({"from": "2026-01-01", "to": "2026-01-03"}),
    )
    .await;
    assert_eq!(ids.len(), 3);
    let mut windows = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let detail = cluster.wait_final(*id).await;
        assert_eq!(detail.state, "succeeded");
        let t = task(&detail, "load");
        windows.push((t.started_at.unwrap(), t.ended_at.unwrap()));
        // Each date's own schedule time drives the built-ins: biz.date is the day before.
        let log = log_text(&cluster.store, t.id).await;
        assert!(
            log.contains(
                &format!("202512{}\n", 31 + i)
                    .replace("20251232", "20260101")
                    .replace("20251233", "20260102")
            ),
            "{log}"
        );
    }
    for pair in windows.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "dates overlapped: {windows:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_backfill_keeps_to_its_parallelism_and_a_failed_date_does_not_stop_the_rest() {
    let cluster = TestCluster::start().await;
    // The date 2026-02-03 fails; the others succeed.
    cluster
        .apply(
            "project: b\nname: wide\ntasks:\n  - { name: load, type: shell, script: 'sleep 0.4; test ${system.biz.curdate} != 20260203' }\n",
        )
        .await;
    let (backfill, ids) = post_backfill(
        &cluster,
        "wide",
        serde_json::json!({"from": "2026-02-01", "to": "2026-02-06", "mode": "parallel", "parallelism": 2}),
    )
    .await;
    assert_eq!(ids.len(), 6);
    let client = cluster.store.client().await.unwrap();
    let mut most = 0i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let running: i64 = client
            .query_one("select count(*) from pgdag.workflow_instance where backfill_id = $1 and state = 'running'", &[&backfill])
            .await
            .unwrap()
            .get(0);
        most = most.max(running);
        let state: String = client
            .query_one(
                "select state from pgdag.backfill where id = $1",
                &[&backfill],
            )
            .await
            .unwrap()
            .get(0);
        if state != "running" {
            assert_eq!(state, "failed", "one date failed");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backfill did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(most <= 2, "{most} instances ran at once with parallelism 2");
    assert_eq!(most, 2, "parallelism 2 was used");
    // As recorded too: an instance started because another ended starts after that end,
    // so the recorded times never show three at once.
    let rows = client
        .query(
            "select started_at, ended_at from pgdag.workflow_instance where backfill_id = $1 and ended_at is not null",
            &[&backfill],
        )
        .await
        .unwrap();
    let mut edges: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for row in &rows {
        edges.push((row.get(0), 1));
        edges.push((row.get(1), -1));
    }
    // An end and a start at the same instant: the end counts first.
    edges.sort();
    let (mut at_once, mut recorded_most) = (0, 0);
    for (_, step) in edges {
        at_once += step;
        recorded_most = recorded_most.max(at_once);
    }
    assert!(
        recorded_most <= 2,
        "the recorded start and end times show {recorded_most} instances at once"
    );
    let mut states = Vec::new();
    for id in &ids {
        states.push(cluster.wait_final(*id).await.state);
    }
    assert_eq!(
        states,
        [
            "succeeded",
            "succeeded",
            "failed",
            "succeeded",
            "succeeded",
            "succeeded"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_backfill_and_its_instances_and_stop_on_failure_stops_the_rest() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: b\nname: strict\ntasks:\n  - { name: load, type: shell, script: 'test ${system.biz.curdate} != 20260302' }\n")
        .await;
    let out = pgdag(&cluster.db)
        .args([
            "backfill",
            "b/strict",
            "--dates",
            "2026-03-03,2026-03-01,2026-03-02",
            "--order",
            "desc",
            "--stop-on-failure",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("backfill "), "{stdout}");
    let ids: Vec<i64> = lines[1..].iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    let mut states = Vec::new();
    let mut times = Vec::new();
    for id in &ids {
        let detail = cluster.wait_final(*id).await;
        states.push(detail.state.clone());
        times.push(detail.schedule_time.unwrap().to_rfc3339());
    }
    // Descending: 03-03 succeeds, 03-02 fails, 03-01 is stopped.
    assert_eq!(
        times,
        [
            "2026-03-03T00:00:00+00:00",
            "2026-03-02T00:00:00+00:00",
            "2026-03-01T00:00:00+00:00"
        ]
    );
    assert_eq!(states, ["succeeded", "failed", "stopped"]);
    let bad = pgdag(&cluster.db)
        .args([
            "backfill",
            "b/strict",
            "--from",
            "2026-03-05",
            "--to",
            "2026-03-01",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("after"));
}

/// A backfill counts toward the workflow's `max_active_runs`: with parallelism 5 and a
/// limit of 2, never more than 2 of its dates run at once, and every date still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_keeps_to_the_workflows_max_active_runs() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            "project: b\nname: capped\nmax_active_runs: 2\ntasks:\n  - { name: load, type: shell, script: 'sleep 0.3' }\n",
        )
        .await;
    let (backfill, ids) = post_backfill(
        &cluster,
        "capped",
        serde_json::json!({"from": "2026-03-01", "to": "2026-03-05", "mode": "parallel", "parallelism": 5}),
    )
    .await;
    assert_eq!(ids.len(), 5);
    let client = cluster.store.client().await.unwrap();
    let mut most = 0i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let running: i64 = client
            .query_one(
                "select count(*) from pgdag.workflow_instance where backfill_id = $1 and state = 'running'",
                &[&backfill],
            )
            .await
            .unwrap()
            .get(0);
        most = most.max(running);
        assert!(
            running <= 2,
            "{running} dates ran at once under max_active_runs 2"
        );
        let state: String = client
            .query_one(
                "select state from pgdag.backfill where id = $1",
                &[&backfill],
            )
            .await
            .unwrap()
            .get(0);
        if state != "running" {
            assert_eq!(state, "succeeded");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backfill did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(most, 2, "the limit of 2 was used");
    let succeeded: i64 = client
        .query_one(
            "select count(*) from pgdag.workflow_instance where backfill_id = $1 and state = 'succeeded'",
            &[&backfill],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(succeeded, 5);
}
