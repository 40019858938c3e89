//! Execution types: how instances of one workflow run side by side.

use std::time::Duration;

use crate::harness::*;

fn workflow(execution: &str) -> String {
    format!(
        "project: x\nname: {execution}\nexecution: {execution}\ntasks:\n  - {{ name: work, type: shell, script: 'sleep 0.8' }}\n"
    )
}

/// Start `n` instances in ONE statement, so the master sees them at the same moment.
async fn start_together(cluster: &TestCluster, workflow: &str, n: i64) -> Vec<i64> {
    let client = cluster.store.client().await.unwrap();
    let rows = client
        .query(
            "insert into pgdag.command (command_type, project, workflow, params)
             select 'start', 'x', $1, '{}' from generate_series(1, $2::bigint)
             returning workflow_instance_id",
            &[&workflow, &n],
        )
        .await
        .unwrap();
    let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_wait_runs_simultaneous_starts_one_at_a_time_in_order() {
    let cluster = TestCluster::start().await;
    cluster.apply(&workflow("serial_wait")).await;
    let ids = start_together(&cluster, "serial_wait", 3).await;
    let mut runs = Vec::new();
    for id in &ids {
        let detail = cluster.wait_final(*id).await;
        assert_eq!(detail.state, "succeeded");
        let t = task(&detail, "work");
        runs.push((t.started_at.unwrap(), t.ended_at.unwrap()));
    }
    // FIFO and never overlapping.
    for pair in runs.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "a later instance started before the earlier ended: {runs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_discard_stops_the_newcomers() {
    let cluster = TestCluster::start().await;
    cluster.apply(&workflow("serial_discard")).await;
    let ids = start_together(&cluster, "serial_discard", 3).await;
    let mut states = Vec::new();
    for id in &ids {
        states.push(cluster.wait_final(*id).await.state);
    }
    assert_eq!(states, ["succeeded", "stopped", "stopped"]);
    // Once the first one ended, a new start runs again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = cluster.run("x/serial_discard", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(again).await.state, "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_priority_starts_waiting_instances_by_priority() {
    let cluster = TestCluster::start().await;
    cluster.apply(&workflow("serial_priority")).await;
    let ids = start_together(&cluster, "serial_priority", 3).await;
    // The first runs; raise the last one's priority while they wait.
    let client = cluster.store.client().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let raised = client
            .execute(
                "update pgdag.workflow_instance set priority = 0 where id = $1 and state = 'waiting'",
                &[&ids[2]],
            )
            .await
            .unwrap();
        if raised == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "instance {} never waited",
            ids[2]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut started = Vec::new();
    for id in &ids {
        let detail = cluster.wait_final(*id).await;
        assert_eq!(detail.state, "succeeded");
        started.push((task(&detail, "work").started_at.unwrap(), *id));
    }
    started.sort();
    let order: Vec<i64> = started.into_iter().map(|(_, id)| id).collect();
    assert_eq!(order, [ids[0], ids[2], ids[1]]);
}
