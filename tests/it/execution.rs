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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_of_two_is_never_exceeded_across_workflows() {
    let cluster =
        TestCluster::start_with(&pgdag::server::Role::ALL, |config| config.max_tasks = 8).await;
    let mut yaml = String::from("kind: task_group\nname: etl_db\nsize: 2\n");
    for (w, n) in [("g1", 4), ("g2", 3), ("g3", 3)] {
        yaml.push_str(&format!("---\nproject: x\nname: {w}\ntasks:\n"));
        for i in 0..n {
            yaml.push_str(&format!(
                "  - {{ name: t{i}, type: shell, script: 'sleep 0.3', task_group: etl_db }}\n"
            ));
        }
        // A task outside the group is not held up by the full group.
        yaml.push_str("  - { name: free, type: shell, script: 'true' }\n");
    }
    cluster.apply(&yaml).await;
    let ids = vec![
        cluster.run("x/g1", serde_json::json!({})).await,
        cluster.run("x/g2", serde_json::json!({})).await,
        cluster.run("x/g3", serde_json::json!({})).await,
    ];
    let client = cluster.store.client().await.unwrap();
    let mut most = 0i64;
    let mut free_done_while_group_busy = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row = client
            .query_one(
                "select count(*) filter (where task_group = 'etl_db' and state in ('queued', 'dispatched', 'running')),
                        count(*) filter (where task_group = 'etl_db' and state not in ('succeeded')),
                        count(*) filter (where name = 'free' and state = 'succeeded')
                 from pgdag.task_instance",
                &[],
            )
            .await
            .unwrap();
        let (busy, unfinished, free_done): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        most = most.max(busy);
        if free_done == 3 && unfinished > 2 {
            free_done_while_group_busy = true;
        }
        let done: i64 = client
            .query_one(
                "select count(*) from pgdag.workflow_instance where state = 'succeeded'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if done == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the group's tasks did not all run"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(most <= 2, "{most} tasks of a group of 2 held slots at once");
    assert_eq!(most, 2);
    assert!(
        free_done_while_group_busy,
        "tasks outside the group ran while the group was full"
    );
    for id in ids {
        assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    }
}

/// Start commands committed one after another (each its own transaction) reach several
/// consumers of two masters at nearly the same time; whoever takes one, the instances run
/// in submission order (instance id order). Many rounds, so a race would show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_wait_runs_starts_in_submission_order_across_consumers_and_masters() {
    let cluster = TestCluster::start().await;
    let second_master = pgdag::server::start(cluster.db.config(), &[pgdag::server::Role::Master])
        .await
        .expect("a second master starts");
    cluster
        .apply("project: x\nname: fifo\nexecution: serial_wait\ntasks:\n  - { name: work, type: shell, script: 'true' }\n")
        .await;
    let client = cluster.store.client().await.unwrap();
    let mut all = Vec::new();
    for _round in 0..15 {
        let mut ids = Vec::new();
        for _ in 0..3 {
            let id: i64 = client
                .query_one("select pgdag.start_workflow('x', 'fifo', '{}'::jsonb)", &[])
                .await
                .unwrap()
                .get(0);
            ids.push(id);
        }
        for id in &ids {
            assert_eq!(cluster.wait_final(*id).await.state, "succeeded");
        }
        all.extend(ids);
    }
    let rows = client
        .query(
            "select id, started_at, ended_at from pgdag.workflow_instance where id = any($1) order by started_at",
            &[&all],
        )
        .await
        .unwrap();
    let order: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(order, sorted, "instances started out of submission order");
    // One at a time, also as recorded: each starts after the one before ended.
    for pair in rows.windows(2) {
        let ended: chrono::DateTime<chrono::Utc> = pair[0].get(2);
        let started: chrono::DateTime<chrono::Utc> = pair[1].get(1);
        assert!(
            started >= ended,
            "instance {} started at {started} before instance {} ended at {ended}",
            pair[1].get::<_, i64>(0),
            pair[0].get::<_, i64>(0)
        );
    }
    second_master.stop().await;
}
