//! Several worker processes (the real binary) against one master.

use std::collections::HashSet;
use std::time::Duration;

use pgdag::server::Role;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_run_each_task_once_in_priority_order() {
    let cluster = TestCluster::start_with(&[Role::Master], |_| {}).await;
    let dir = temp_dir();
    let ran = dir.path().join("ran");
    let priorities = ["lowest", "low", "medium", "high", "highest"];
    let mut yaml = String::from("project: t\nname: prio\ntasks:\n");
    for i in 0..15 {
        yaml.push_str(&format!(
            "  - name: t{i}\n    type: shell\n    priority: {}\n    script: |\n      echo \"$PGDAG_TASK_INSTANCE_ID\" >> {}\n      sleep 0.3\n",
            priorities[i % 5],
            ran.display()
        ));
    }
    cluster.apply(&yaml).await;
    let id = cluster.run("t/prio", serde_json::json!({})).await;
    // Let the master queue all 15 before any worker exists, so the order is the queue's.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let client = cluster.store.client().await.unwrap();
        let queued: i64 = client
            .query_one("select count(*) from pgdag.task_queue", &[])
            .await
            .unwrap()
            .get(0);
        if queued == 15 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tasks were not queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut workers = Vec::new();
    for name in ["w1", "w2"] {
        let mut worker = pgdag(&cluster.db);
        worker
            .args(["server", "--roles", "worker"])
            .env("PGDAG_MAX_TASKS", "1")
            .env("PGDAG_SERVER_NAME", name);
        workers.push(spawn(worker));
    }
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");

    // Each task ran exactly once.
    let lines: Vec<String> = std::fs::read_to_string(&ran)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let unique: HashSet<&String> = lines.iter().collect();
    assert_eq!(lines.len(), 15, "{lines:?}");
    assert_eq!(unique.len(), 15);
    let hosts: HashSet<String> = detail
        .tasks
        .iter()
        .flatten()
        .filter_map(|t| t.host.clone())
        .collect();
    assert_eq!(hosts, HashSet::from(["w1".to_string(), "w2".to_string()]));

    // Priority order: no task was dispatched while a higher-priority one still waited.
    // Each task holds a slot for 300 ms, so a real inversion shows as a gap of that size;
    // two claims at the same instant may tie.
    let client = cluster.store.client().await.unwrap();
    let rows = client
        .query(
            "select t.priority, (extract(epoch from t.dispatched_at) * 1000)::float8 from pgdag.task_instance t where workflow_instance_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let dispatched: Vec<(i16, f64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for &(p_high, t_high) in &dispatched {
        for &(p_low, t_low) in &dispatched {
            if p_high < p_low {
                assert!(
                    t_low >= t_high - 150.0,
                    "a priority {p_low} task was dispatched {:.0} ms before a priority {p_high} one",
                    t_high - t_low
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_groups_route_tasks_and_a_group_without_workers_waits_without_blocking_others() {
    // This process's worker serves only `default`.
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            "project: t\nname: groups\ntasks:\n  - { name: cpu, type: shell, script: 'echo cpu' }\n  - { name: gpu, type: shell, script: 'echo gpu', worker_group: gpu }\n",
        )
        .await;
    let id = cluster.run("t/groups", serde_json::json!({})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let client = cluster.store.client().await.unwrap();
        let detail = pgdag::store::instances::get(&client, id)
            .await
            .unwrap()
            .unwrap();
        let state = |name: &str| {
            detail
                .tasks
                .iter()
                .flatten()
                .find(|t| t.name == name)
                .map(|t| t.state.clone())
        };
        if state("cpu").as_deref() == Some("succeeded") {
            assert_eq!(
                state("gpu").as_deref(),
                Some("queued"),
                "no gpu worker: the task stays queued"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the default-group task did not run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A worker for `gpu` (the real binary) picks it up.
    let mut gpu = pgdag(&cluster.db);
    gpu.args(["server", "--roles", "worker", "--worker-groups", "gpu"])
        .env("PGDAG_SERVER_NAME", "gpu-worker");
    let _gpu = spawn(gpu);
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    assert_eq!(task(&detail, "gpu").host.as_deref(), Some("gpu-worker"));
    assert_ne!(task(&detail, "cpu").host.as_deref(), Some("gpu-worker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_slot_runs_tasks_in_priority_order_fifo_within_a_level() {
    let cluster =
        TestCluster::start_with(&pgdag::server::Role::ALL, |config| config.max_tasks = 1).await;
    let levels = ["low", "highest", "medium", "highest", "lowest", "medium"];
    let mut yaml = String::from("project: t\nname: one_slot\ntasks:\n");
    for (i, level) in levels.iter().enumerate() {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'sleep 0.05', priority: {level} }}\n"
        ));
    }
    cluster.apply(&yaml).await;
    let detail = cluster
        .wait_final(cluster.run("t/one_slot", serde_json::json!({})).await)
        .await;
    assert_eq!(detail.state, "succeeded");
    let mut runs: Vec<(chrono::DateTime<chrono::Utc>, String)> = detail
        .tasks
        .iter()
        .flatten()
        .map(|t| (t.started_at.unwrap(), t.name.clone()))
        .collect();
    runs.sort();
    let order: Vec<&str> = runs.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(order, ["t1", "t3", "t2", "t5", "t0", "t4"]);
}
