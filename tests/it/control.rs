//! Run control: pause, resume, stop, rerun, start-failed — through SQL commands, the REST
//! API and the CLI.

use std::time::{Duration, Instant};

use pgdag::store::instances;

use crate::harness::*;

const SLOW_CHAIN: &str = r#"
project: c
name: slow
tasks:
  - { name: a, type: shell, script: "sleep 0.6; echo a" }
  - { name: b, type: shell, script: "sleep 0.6; echo b", depends_on: [a] }
  - { name: c, type: shell, script: "echo c", depends_on: [b] }
"#;

fn task_state<'a>(detail: &'a instances::InstanceDetail, name: &str) -> Option<&'a str> {
    detail
        .tasks
        .iter()
        .flatten()
        .find(|t| t.name == name)
        .map(|t| t.state.as_str())
}

async fn sql_command(cluster: &TestCluster, kind: &str, id: i64) {
    let client = cluster.store.client().await.unwrap();
    client
        .execute(
            "insert into pgdag.command (command_type, workflow_instance_id) values ($1, $2)",
            &[&kind, &id],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_lets_the_running_task_finish_and_resume_goes_on() {
    let cluster = TestCluster::start().await;
    cluster.apply(SLOW_CHAIN).await;
    let id = cluster.run("c/slow", serde_json::json!({})).await;
    cluster
        .wait_for(id, "task a running", |d| {
            task_state(d, "a") == Some("running")
        })
        .await;
    sql_command(&cluster, "pause", id).await;
    let paused = cluster
        .wait_for(id, "paused", |d| d.state == "paused")
        .await;
    assert_eq!(
        task(&paused, "a").state,
        "succeeded",
        "the running task finishes"
    );
    assert_eq!(task(&paused, "b").state, "pending", "nothing new starts");
    // A whole evaluator round after the pause has taken every event due, and b still waits.
    cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
    assert_eq!(task(&cluster.detail(id).await, "b").state, "pending");
    sql_command(&cluster, "resume", id).await;
    let done = cluster
        .wait_for(id, "succeeded after resume", |d| d.state == "succeeded")
        .await;
    assert!(
        done.tasks
            .iter()
            .flatten()
            .all(|t| t.state == "succeeded" && t.attempt == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_kills_the_running_task_and_rerun_runs_everything_again() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: c\nname: long\ntasks:\n  - { name: long, type: shell, script: 'sleep 30 & wait' }\n  - { name: after, type: shell, script: 'echo after', depends_on: [long] }\n")
        .await;
    let id = cluster.run("c/long", serde_json::json!({})).await;
    cluster
        .wait_for(id, "task running", |d| {
            task_state(d, "long") == Some("running")
        })
        .await;
    // Through the REST API.
    let token = cluster.api_token("ops").await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", cluster.api());
    let stop = http
        .post(format!("{base}/api/v1/instances/{id}/stop"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 202);
    let started = Instant::now();
    let stopped = cluster.wait_final(id).await;
    assert_eq!(stopped.state, "stopped");
    assert_eq!(task(&stopped, "long").state, "killed");
    assert_eq!(task(&stopped, "after").state, "pending");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the kill reached the process group"
    );
    let bad = http
        .post(format!("{base}/api/v1/instances/{id}/explode"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);

    // Rerun the stopped instance from the start, after making the long task quick: the
    // instance keeps its version, so use a workflow whose tasks are already quick.
    cluster
        .apply("project: c\nname: quick\ntasks:\n  - { name: one, type: shell, script: 'echo one' }\n  - { name: two, type: shell, script: 'echo two', depends_on: [one] }\n")
        .await;
    let quick = cluster.run("c/quick", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(quick).await.state, "succeeded");
    let rerun = http
        .post(format!("{base}/api/v1/instances/{quick}/rerun"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(rerun.status(), 202);
    let again = cluster
        .wait_for(quick, "second run", |d| {
            d.state == "succeeded" && d.tasks.iter().flatten().all(|t| t.attempt == 2)
        })
        .await;
    assert_eq!(task(&again, "two").state, "succeeded");
    // History of the earlier attempt is kept in the log.
    let log = log_text(&cluster.store, task(&again, "one").id).await;
    assert!(
        log.contains("[pgdag] attempt 1") && log.contains("[pgdag] attempt 2"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_failed_reruns_failed_tasks_and_keeps_succeeded_ones() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let flag = dir.path().join("ok");
    cluster
        .apply(&format!(
            "project: c\nname: fix\ntasks:\n  - {{ name: good, type: shell, script: 'echo good' }}\n  - {{ name: flaky, type: shell, script: 'test -f {flag}', depends_on: [good] }}\n  - {{ name: last, type: shell, script: 'echo last', depends_on: [flaky] }}\n",
            flag = flag.display()
        ))
        .await;
    let id = cluster.run("c/fix", serde_json::json!({})).await;
    let failed = cluster.wait_final(id).await;
    assert_eq!(failed.state, "failed");
    assert_eq!(task(&failed, "last").state, "skipped");
    std::fs::write(&flag, "").unwrap();
    // Through the CLI.
    let out = pgdag(&cluster.db)
        .args(["ctl", "start-failed", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = cluster
        .wait_for(id, "succeeded", |d| d.state == "succeeded")
        .await;
    assert_eq!(task(&done, "good").attempt, 1, "succeeded tasks are kept");
    assert_eq!(task(&done, "flaky").attempt, 2);
    assert_eq!(task(&done, "last").state, "succeeded");

    // Commands that do not fit the state fail with a reason and change nothing.
    sql_command(&cluster, "resume", id).await;
    let client = cluster.store.client().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error: String = loop {
        let row = client
            .query_opt("select error from pgdag.command where workflow_instance_id = $1 and state = 'failed'", &[&id])
            .await
            .unwrap();
        if let Some(row) = row {
            break row.get(0);
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        error.contains("cannot resume instance") && error.contains("succeeded"),
        "{error}"
    );
    let out = pgdag(&cluster.db)
        .args(["ctl", "pause", "987654"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_chosen_nodes_runs_them_and_their_downstream_only() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: c\nname: nodes\ntasks:\n  - { name: a, type: shell, script: 'echo a' }\n  - { name: b, type: shell, script: 'echo b', depends_on: [a] }\n  - { name: c, type: shell, script: 'echo c', depends_on: [b] }\n  - { name: side, type: shell, script: 'echo side', depends_on: [a] }\n")
        .await;
    let token = cluster.api_token("nodes").await;
    let http = reqwest::Client::new();
    let url = format!(
        "http://{}/api/v1/projects/c/workflows/nodes/runs",
        cluster.api()
    );
    let response = http
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"start_nodes": ["b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["instance_ids"][0]
        .as_i64()
        .unwrap();
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    assert_eq!(task(&detail, "a").state, "skipped");
    assert_eq!(task(&detail, "side").state, "skipped");
    assert_eq!(task(&detail, "b").state, "succeeded");
    assert_eq!(task(&detail, "c").state, "succeeded");
    let bad = http
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"start_nodes": ["nope"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forcing_a_failed_task_to_success_lets_the_instance_go_on() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: c\nname: force\ntasks:\n  - { name: broken, type: shell, script: 'exit 1' }\n  - { name: next, type: shell, script: 'echo next', depends_on: [broken] }\n")
        .await;
    let id = cluster.run("c/force", serde_json::json!({})).await;
    let failed = cluster.wait_final(id).await;
    assert_eq!(failed.state, "failed");
    assert_eq!(task(&failed, "next").state, "skipped");
    let token = cluster.api_token("force").await;
    let broken = task(&failed, "broken").id;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/task-instances/{broken}/force-success",
            cluster.api()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let done = cluster
        .wait_for(id, "succeeded after force", |d| d.state == "succeeded")
        .await;
    assert_eq!(task(&done, "broken").state, "forced_success");
    assert_eq!(task(&done, "next").state, "succeeded");
}

/// Every control command through each interface — CLI, REST and SQL — reaches the master
/// as the same command: on a succeeded instance, `rerun` runs it again and the others are
/// refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_control_command_works_the_same_from_cli_rest_and_sql() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: c\nname: same\ntasks:\n  - { name: one, type: shell, script: 'true' }\n")
        .await;
    let id = cluster.run("c/same", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    let client = cluster.store.client().await.unwrap();
    let token = cluster.api_token("same").await;
    let http = reqwest::Client::new();
    let mut attempt = 1;
    for path in ["cli", "rest", "sql"] {
        for action in ["pause", "resume", "stop", "rerun", "start-failed"] {
            match path {
                "cli" => {
                    let out = pgdag(&cluster.db)
                        .args(["ctl", action, &id.to_string()])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{path} {action}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                "rest" => {
                    let response = http
                        .post(format!(
                            "http://{}/api/v1/instances/{id}/{action}",
                            cluster.api()
                        ))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 202, "{path} {action}");
                }
                _ => {
                    client
                        .execute(
                            "insert into pgdag.command (command_type, workflow_instance_id) values ($1, $2)",
                            &[&action.replace('-', "_"), &id],
                        )
                        .await
                        .unwrap();
                }
            }
            if action == "rerun" {
                attempt += 1;
                let again = cluster
                    .wait_for(id, "rerun", |d| {
                        d.state == "succeeded"
                            && task_state(d, "one") == Some("succeeded")
                            && d.tasks.iter().flatten().all(|t| t.attempt == attempt)
                    })
                    .await;
                assert_eq!(again.state, "succeeded", "{path} {action}");
            } else {
                // Refused: the command is kept failed with the reason.
                let deadline = Instant::now() + Duration::from_secs(10);
                let verb = match action {
                    "start-failed" => "start failed tasks of",
                    other => other,
                };
                loop {
                    let n: i64 = client
                        .query_one(
                            "select count(*) from pgdag.command where workflow_instance_id = $1 and state = 'failed' and error like $2",
                            &[&id, &format!("cannot {verb} instance%")],
                        )
                        .await
                        .unwrap()
                        .get(0);
                    let expected = match path {
                        "cli" => 1,
                        "rest" => 2,
                        _ => 3,
                    };
                    if n == expected {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{path} {action}: refused commands {n}, expected {expected}"
                    );
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
        }
    }
}

/// `a -> b -> c`, `a -> d`: `b` fails until the marker file exists.
fn retry_flow(marker: &std::path::Path) -> String {
    format!(
        "project: c\nname: retry\ntasks:\n  - {{ name: a, type: shell, script: 'echo a' }}\n  - {{ name: b, type: shell, script: 'test -f {m}', depends_on: [a] }}\n  - {{ name: c, type: shell, script: 'echo c', depends_on: [b] }}\n  - {{ name: d, type: shell, script: 'echo d', depends_on: [a] }}\n",
        m = marker.display()
    )
}

/// Retry in place (Airflow's "clear with downstream"): the failed task and its downstream
/// run again with a new attempt, the instance goes back to running and ends succeeded, the
/// tasks not downstream keep their results — through the CLI, then REST on a succeeded
/// task, then a SQL command row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_task_reruns_it_and_its_downstream_through_cli_rest_and_sql() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let marker = dir.path().join("ok");
    cluster.apply(&retry_flow(&marker)).await;
    let id = cluster.run("c/retry", serde_json::json!({})).await;
    let failed = cluster.wait_final(id).await;
    assert_eq!(failed.state, "failed");
    assert_eq!(task(&failed, "b").state, "failed");
    assert_eq!(task(&failed, "c").state, "skipped");
    assert_eq!(task(&failed, "d").state, "succeeded");
    let b = task(&failed, "b").id;

    // CLI.
    std::fs::write(&marker, "").unwrap();
    let out = pgdag(&cluster.db)
        .args(["ctl", "retry-task", &b.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = cluster
        .wait_for(id, "succeeded after retry", |d| d.state == "succeeded")
        .await;
    let attempts = |d: &instances::InstanceDetail| {
        ["a", "b", "c", "d"].map(|n| (task(d, n).state.clone(), task(d, n).attempt))
    };
    let succeeded = |n| ("succeeded".to_string(), n);
    assert_eq!(
        attempts(&done),
        [succeeded(1), succeeded(2), succeeded(1), succeeded(1)],
        "b ran again (attempt 2), c ran for the first time, a and d kept their results"
    );
    assert_eq!(
        task(&done, "a").ended_at,
        task(&failed, "a").ended_at,
        "a was not touched"
    );

    // REST, on a succeeded task without downstream: only d runs again.
    let token = cluster.api_token("retry").await;
    let d = task(&done, "d").id;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/task-instances/{d}/retry",
            cluster.api()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["instance_id"], id);
    let again = cluster
        .wait_for(id, "d ran again", |x| {
            x.state == "succeeded" && task(x, "d").attempt == 2
        })
        .await;
    assert_eq!(
        attempts(&again),
        [succeeded(1), succeeded(2), succeeded(1), succeeded(2)]
    );

    // SQL: a command row retries a (and so everything).
    let client = cluster.store.client().await.unwrap();
    let a = task(&again, "a").id;
    client
        .execute(
            "insert into pgdag.command (command_type, workflow_instance_id, options) values ('retry_task', $1, jsonb_build_object('task_instance_id', $2::bigint))",
            &[&id, &a],
        )
        .await
        .unwrap();
    let all = cluster
        .wait_for(id, "everything ran again", |x| {
            x.state == "succeeded" && task(x, "d").attempt == 3
        })
        .await;
    assert_eq!(
        attempts(&all),
        [succeeded(2), succeeded(3), succeeded(2), succeeded(3)]
    );
}

/// A task that has not ended cannot be retried: REST answers 409 and the CLI exits 1, both
/// with the reason, and a SQL command row is failed with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_running_task_is_refused_with_the_reason() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let go = dir.path().join("go");
    cluster
        .apply(&format!(
            "project: c\nname: busy\ntasks:\n  - {{ name: wait, type: shell, script: 'while [ ! -f {} ]; do sleep 0.05; done' }}\n",
            go.display()
        ))
        .await;
    let id = cluster.run("c/busy", serde_json::json!({})).await;
    let running = cluster
        .wait_for(id, "the task runs", |d| {
            task_state(d, "wait") == Some("running")
        })
        .await;
    let t = task(&running, "wait").id;

    let token = cluster.api_token("busy").await;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/task-instances/{t}/retry",
            cluster.api()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("still running"), "{message}");

    let out = pgdag(&cluster.db)
        .args(["ctl", "retry-task", &t.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("still running"), "{stderr}");

    let client = cluster.store.client().await.unwrap();
    let command: i64 = client
        .query_one(
            "insert into pgdag.command (command_type, workflow_instance_id, options) values ('retry_task', $1, jsonb_build_object('task_instance_id', $2::bigint)) returning id",
            &[&id, &t],
        )
        .await
        .unwrap()
        .get(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let error: String = loop {
        let row = client
            .query_opt(
                "select state, error from pgdag.command where id = $1",
                &[&command],
            )
            .await
            .unwrap();
        if let Some(row) = row
            && row.get::<_, String>(0) == "failed"
        {
            break row.get(1);
        }
        assert!(Instant::now() < deadline, "the command was not failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        error.contains(&format!(
            "cannot retry task instance {t}: the task is still running"
        )),
        "{error}"
    );

    std::fs::write(&go, "").unwrap();
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "succeeded");
    assert_eq!(task(&done, "wait").attempt, 1, "nothing was retried");
}

/// `workflow offline|online`: offline refuses new runs with a clear error (CLI, REST, SQL
/// command) and is a version of its own; online runs again. Through the CLI and REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_workflow_refuses_new_runs_until_it_is_online_again() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: c\nname: rel\ntasks:\n  - { name: one, type: shell, script: 'true' }\n")
        .await;
    let out = pgdag(&cluster.db)
        .args(["workflow", "offline", "c/rel"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "c/rel: now offline (version 2)\n"
    );
    let run = pgdag(&cluster.db).args(["run", "c/rel"]).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("workflow c/rel is offline"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let token = cluster.api_token("rel").await;
    let http = reqwest::Client::new();
    let api = cluster.api();
    let refused = http
        .post(format!("http://{api}/api/v1/projects/c/workflows/rel/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let again = pgdag(&cluster.db)
        .args(["workflow", "offline", "c/rel"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "c/rel: already offline (version 2)\n"
    );

    let online = http
        .post(format!(
            "http://{api}/api/v1/projects/c/workflows/rel/online"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(online.status(), 200);
    let body: serde_json::Value = online.json().await.unwrap();
    assert_eq!(body["release"], "online");
    assert_eq!(body["version"], 3);
    let id = cluster.run("c/rel", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
}

/// `workflow delete`: refused while an instance runs; then its schedules go, its finished
/// instances stay readable, a dependent on it fails saying so, and applying it again
/// numbers the versions on. `--with-history` removes the instances; `project delete` takes
/// the rest, through REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_workflow_and_a_project_leaves_nothing_dangling() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let go = dir.path().join("go");
    let target = format!(
        "project: c\nname: gone\nschedule: {{ cron: '0 0 3 * * ?' }}\ntasks:\n  - {{ name: t, type: shell, script: 'while [ ! -f {} ]; do sleep 0.05; done' }}\n",
        go.display()
    );
    cluster.apply(&target).await;
    cluster
        .apply("project: c\nname: after\ntasks:\n  - { name: wait_for_it, type: dependent, all: [{ workflow: gone, window: today }], failure: wait }\n")
        .await;
    let id = cluster.run("c/gone", serde_json::json!({})).await;
    let out = pgdag(&cluster.db)
        .args(["workflow", "delete", "c/gone"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("have not ended") && stderr.contains(&id.to_string()),
        "{stderr}"
    );
    std::fs::write(&go, "").unwrap();
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");

    let out = pgdag(&cluster.db)
        .args(["workflow", "delete", "c/gone"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "c/gone: deleted (1 schedules removed, finished instances kept)\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("c/after task wait_for_it depends on c/gone"),
        "{stderr}"
    );
    let client = cluster.store.client().await.unwrap();
    let schedules: i64 = client
        .query_one("select count(*) from pgdag.schedule", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(schedules, 0);
    let status = pgdag(&cluster.db)
        .args(["status", &id.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "the finished instance stays readable"
    );
    let run = pgdag(&cluster.db).args(["run", "c/gone"]).output().unwrap();
    assert_eq!(run.status.code(), Some(2));

    // A dependent on it fails with the reason, even with `failure: wait`.
    let dependent = cluster.run("c/after", serde_json::json!({})).await;
    let failed = cluster.wait_final(dependent).await;
    assert_eq!(failed.state, "failed");
    let log = log_text(&cluster.store, task(&failed, "wait_for_it").id).await;
    assert!(log.contains("workflow c/gone does not exist"), "{log}");

    // Applied again: numbered after the versions it kept.
    let applied = cluster.apply(&target).await;
    assert_eq!(applied[0].version, 2);
    let task_ids: Vec<i64> = client
        .query(
            "select id from pgdag.task_instance where workflow_instance_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!task_ids.is_empty());
    let out = pgdag(&cluster.db)
        .args(["workflow", "delete", "c/gone", "--with-history"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 finished instances removed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(instances::get(&client, id).await.unwrap().is_none());
    // Its task rows and their logs went with it.
    let left = task_and_log_rows(&client, &task_ids).await;
    assert_eq!(left, 0, "task or log rows of the deleted instance left");

    // The project, through REST: admins only; it leaves the listing; the dependent's
    // finished instance stays readable.
    let token = cluster.api_token("root").await;
    let http = reqwest::Client::new();
    let api = cluster.api();
    let response = http
        .delete(format!("http://{api}/api/v1/projects/c"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["deleted"][0]["workflow"], "after");
    let projects: serde_json::Value = http
        .get(format!("http://{api}/api/v1/projects"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(projects["projects"], serde_json::json!([]), "{projects}");
    let kept = http
        .get(format!("http://{api}/api/v1/instances/{dependent}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    let out = pgdag(&cluster.db)
        .args(["project", "delete", "c", "--with-history"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "already deleted");
}

/// `project delete --with-history` takes what is left of the project's history: the
/// instances of a workflow deleted earlier without history, with their task and log rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_deleted_with_history_takes_the_instances_of_workflows_deleted_before() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: h\nname: w\ntasks:\n  - { name: t, type: shell, script: 'echo kept' }\n")
        .await;
    let id = cluster.run("h/w", serde_json::json!({})).await;
    let done = cluster.wait_final(id).await;
    let task_ids = vec![task(&done, "t").id];
    let client = cluster.store.client().await.unwrap();
    assert!(task_and_log_rows(&client, &task_ids).await >= 2);
    for args in [
        &["workflow", "delete", "h/w"][..],
        &["project", "delete", "h", "--with-history"][..],
    ] {
        let out = pgdag(&cluster.db).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(instances::get(&client, id).await.unwrap().is_none());
    assert_eq!(
        task_and_log_rows(&client, &task_ids).await,
        0,
        "task or log rows of the project's instance left"
    );
}
