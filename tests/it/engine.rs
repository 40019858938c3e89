//! The engine end to end, with the roles running in the test process.

use std::time::Duration;

use pgdag::store::{commands, definitions::ApplyOutcome, instances};

use crate::harness::*;

const CHAIN: &str = r#"
project: t
name: chain
params: { who: nobody }
tasks:
  - name: first
    type: shell
    script: |
      echo "hello ${who}"
      echo '${setValue(rows=42)}'
  - name: second
    type: python
    script: |
      print("rows=${rows}")
    depends_on: [first]
  - name: third
    type: empty
    depends_on: [second]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_runs_in_order_and_passes_out_params() {
    let cluster = TestCluster::start().await;
    cluster.apply(CHAIN).await;
    let id = cluster
        .run("t/chain", serde_json::json!({"who": "world"}))
        .await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    let (first, second, third) = (
        task(&detail, "first"),
        task(&detail, "second"),
        task(&detail, "third"),
    );
    for t in [first, second, third] {
        assert_eq!(t.state, "succeeded", "{}", t.name);
        assert_eq!(t.attempt, 1, "{}", t.name);
    }
    assert!(
        second.started_at >= first.ended_at,
        "second started before first ended"
    );
    assert_eq!(first.out_params["rows"], "42");
    assert_eq!(first.exit_code, Some(0));
    assert!(first.host.is_some());
    assert!(
        log_text(&cluster.store, first.id)
            .await
            .contains("hello world\n")
    );
    assert!(
        log_text(&cluster.store, second.id)
            .await
            .contains("rows=42\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_rerun_a_failing_task_until_it_succeeds() {
    let (cluster, clock) = TestCluster::start_at(tomorrow()).await;
    let dir = temp_dir();
    let counter = dir.path().join("count");
    let yaml = format!(
        r#"
project: t
name: flaky
tasks:
  - name: flaky
    type: shell
    retries: 2
    retry_interval: 1h
    script: |
      echo x >> {counter}
      test $(wc -l < {counter}) -ge 3
"#,
        counter = counter.display()
    );
    cluster.apply(&yaml).await;
    let id = cluster.run("t/flaky", serde_json::json!({})).await;
    for attempt in 1..=2 {
        wait_task(&cluster, id, "flaky", |t| {
            t.state == "retrying" && t.attempt == attempt
        })
        .await;
        // Not retried before its interval: a whole evaluator round leaves it waiting ...
        cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
        let client = cluster.store.client().await.unwrap();
        let detail = instances::get(&client, id).await.unwrap().unwrap();
        let flaky = task(&detail, "flaky");
        assert_eq!((flaky.state.as_str(), flaky.attempt), ("retrying", attempt));
        // ... until the clock has gone the hour on.
        cluster.advance(&clock, Duration::from_secs(3600));
    }
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    let flaky = task(&detail, "flaky");
    assert_eq!(flaky.attempt, 3);
    let log = log_text(&cluster.store, flaky.id).await;
    assert_eq!(log.matches("[pgdag] attempt").count(), 3, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handled_failure_ends_succeeded_and_skips_success_successors() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            r#"
project: t
name: handled
tasks:
  - { name: boom, type: shell, script: "exit 3" }
  - { name: on_ok, type: shell, script: "echo ok", depends_on: [boom] }
  - { name: on_fail, type: shell, script: "echo cleanup", depends_on: [{ task: boom, on: failure }] }
  - { name: after_ok, type: shell, script: "echo after", depends_on: [on_ok] }
  - { name: always, type: shell, script: "echo always", depends_on: [{ task: boom, on: always }] }
"#,
        )
        .await;
    let detail = cluster
        .wait_final(cluster.run("t/handled", serde_json::json!({})).await)
        .await;
    assert_eq!(task(&detail, "boom").state, "failed");
    assert_eq!(task(&detail, "boom").exit_code, Some(3));
    assert_eq!(task(&detail, "on_ok").state, "skipped");
    assert_eq!(task(&detail, "after_ok").state, "skipped");
    assert_eq!(task(&detail, "on_fail").state, "succeeded");
    assert_eq!(task(&detail, "always").state, "succeeded");
    assert_eq!(detail.state, "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_strategy_end_kills_running_siblings() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            r#"
project: t
name: end
failure_strategy: end
tasks:
  - { name: slow, type: shell, script: "sleep 30 & wait; echo never" }
  - { name: boom, type: shell, script: "sleep 0.3; exit 1" }
  - { name: later, type: shell, script: "echo later", depends_on: [slow] }
"#,
        )
        .await;
    let started = std::time::Instant::now();
    let detail = cluster
        .wait_final(cluster.run("t/end", serde_json::json!({})).await)
        .await;
    assert_eq!(detail.state, "failed");
    assert_eq!(task(&detail, "boom").state, "failed");
    assert_eq!(task(&detail, "slow").state, "killed");
    assert_eq!(task(&detail, "later").state, "skipped");
    // The kill reached the process group: the instance did not wait for `sleep 30`.
    assert!(started.elapsed() < Duration::from_secs(25));
    assert!(
        !log_text(&cluster.store, task(&detail, "slow").id)
            .await
            .contains("never")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_strategy_runs_independent_branches_and_ends_failed() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            r#"
project: t
name: cont
tasks:
  - { name: boom, type: shell, script: "exit 1" }
  - { name: other, type: shell, script: "sleep 0.3; echo fine" }
  - { name: next, type: shell, script: "echo next", depends_on: [other] }
  - { name: disabled, type: shell, script: "exit 9", run: false }
  - { name: after_disabled, type: shell, script: "echo ran", depends_on: [disabled] }
"#,
        )
        .await;
    let detail = cluster
        .wait_final(cluster.run("t/cont", serde_json::json!({})).await)
        .await;
    assert_eq!(detail.state, "failed");
    assert_eq!(task(&detail, "next").state, "succeeded");
    assert_eq!(task(&detail, "disabled").state, "skipped");
    assert_eq!(task(&detail, "after_disabled").state, "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_workflow_in_a_rolled_back_transaction_runs_nothing() {
    let cluster = TestCluster::start().await;
    cluster.apply(CHAIN).await;
    let mut client = cluster.store.client().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let rolled_back: i64 = tx
        .query_one(
            "select pgdag.start_workflow('t', 'chain', '{}'::jsonb)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Inside the caller's transaction the instance is visible at once, as `submitted`.
    let state: String = tx
        .query_one(
            "select state from pgdag.workflow_instance_v where id = $1",
            &[&rolled_back],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "submitted");
    tx.rollback().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let committed: i64 = tx
        .query_one(
            "select pgdag.start_workflow('t', 'chain', '{\"who\": \"sql\"}'::jsonb)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    let detail = cluster.wait_final(committed).await;
    assert_eq!(detail.state, "succeeded");
    let state: Option<String> = client
        .query_opt(
            "select state from pgdag.workflow_instance_v where id = $1",
            &[&rolled_back],
        )
        .await
        .unwrap()
        .map(|r| r.get(0));
    assert_eq!(
        state, None,
        "the rolled-back start must not create an instance"
    );
    let count: i64 = client
        .query_one("select count(*) from pgdag.workflow_instance", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    let rows = client
        .query("select name, state, attempt from pgdag.task_instance_v where workflow_instance_id = $1 order by id", &[&committed])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        log_text(&cluster.store, task(&detail, "first").id)
            .await
            .contains("hello sql")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_command_fails_with_a_reason_and_the_master_goes_on() {
    let cluster = TestCluster::start().await;
    cluster.apply(CHAIN).await;
    let client = cluster.store.client().await.unwrap();
    let bad: i64 = client
        .query_one(
            "insert into pgdag.command (command_type, project, workflow, params) values ('start', 't', 'nope', '{}') returning workflow_instance_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let good = cluster.run("t/chain", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(good).await.state, "succeeded");
    let (state, error, _) = commands::state_for_instance(&client, bad)
        .await
        .unwrap()
        .expect("failed command kept");
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("workflow t/nope does not exist"));
    // SQL API errors name the workflow at once.
    let err = client
        .query_one("select pgdag.start_workflow('t', 'nope', '{}')", &[])
        .await
        .unwrap_err();
    assert!(err.as_db_error().unwrap().message().contains("t/nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplying_keeps_the_version_and_a_change_makes_a_new_one_running_instances_keep_theirs() {
    let cluster = TestCluster::start().await;
    let v1 = r#"
project: t
name: ver
tasks:
  - { name: wait, type: shell, script: "sleep 0.5; echo v1" }
"#;
    assert_eq!(cluster.apply(v1).await[0].outcome, ApplyOutcome::Created);
    assert_eq!(cluster.apply(v1).await[0].outcome, ApplyOutcome::Unchanged);
    let running = cluster.run("t/ver", serde_json::json!({})).await;
    // Let the master create the instance on version 1 before version 2 exists.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let client = cluster.store.client().await.unwrap();
        let detail = instances::get(&client, running).await.unwrap().unwrap();
        if detail.state != "submitted" {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let applied = cluster.apply(&v1.replace("echo v1", "echo v2")).await;
    assert_eq!(
        (applied[0].outcome.clone(), applied[0].version),
        (ApplyOutcome::Updated, 2)
    );
    let old = cluster.wait_final(running).await;
    assert_eq!(old.version, 1);
    assert!(
        log_text(&cluster.store, task(&old, "wait").id)
            .await
            .contains("v1")
    );
    let new = cluster
        .wait_final(cluster.run("t/ver", serde_json::json!({})).await)
        .await;
    assert_eq!(new.version, 2);
    assert!(
        log_text(&cluster.store, task(&new, "wait").id)
            .await
            .contains("v2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_and_time_parameters_follow_the_schedule_time() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            r#"
project: t
name: dates
params: { dt: "${system.biz.date}" }
tasks:
  - name: show
    type: shell
    script: |
      echo "dt=${dt} cur=${system.biz.curdate} m=$[add_months(yyyyMMdd,-1)] wf=${system.workflow.definition.name} p=${system.project.name}"
"#,
        )
        .await;
    let client = cluster.store.client().await.unwrap();
    let (_, id) = commands::insert(
        &client,
        "cli:test",
        pgdag::model::CommandType::Start,
        Some("t"),
        Some("dates"),
        &serde_json::json!({}),
        &serde_json::json!({"schedule_time": "2026-03-01T10:00:00Z"}),
        None,
    )
    .await
    .unwrap();
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    let log = log_text(&cluster.store, task(&detail, "show").id).await;
    assert!(
        log.contains("dt=20260228 cur=20260301 m=20260201 wf=dates p=t"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_fan_out_with_a_large_script_finishes() {
    let cluster = TestCluster::start().await;
    // 40 leaves end one by one (the evaluator's fast path), then the instance finishes.
    let mut yaml = String::from("project: t\nname: wide\ntasks:\n");
    for i in 0..40 {
        yaml.push_str(&format!(
            "  - {{ name: leaf{i}, type: shell, script: 'echo {i}' }}\n"
        ));
    }
    // Larger than one command-line argument may be: it goes through a file.
    let padding = "#".repeat(150 * 1024);
    yaml.push_str(&format!(
        "  - name: big\n    type: shell\n    script: |\n      {padding}\n      echo big done\n"
    ));
    cluster.apply(&yaml).await;
    let detail = cluster
        .wait_final(cluster.run("t/wide", serde_json::json!({})).await)
        .await;
    assert_eq!(detail.state, "succeeded");
    assert!(
        detail
            .tasks
            .iter()
            .flatten()
            .all(|t| t.state == "succeeded")
    );
    assert!(
        log_text(&cluster.store, task(&detail, "big").id)
            .await
            .contains("big done")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_only_mode_runs_without_listen() {
    let cluster =
        TestCluster::start_with(&pgdag::server::Role::ALL, |config| config.poll_only = true).await;
    cluster.apply(CHAIN).await;
    let detail = cluster
        .wait_final(cluster.run("t/chain", serde_json::json!({})).await)
        .await;
    assert_eq!(detail.state, "succeeded");
    let client = cluster.store.client().await.unwrap();
    let listeners: i64 = client
        .query_one(
            "select count(*) from pg_stat_activity where datname = current_database() and query ilike 'listen%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(listeners, 0, "poll_only must not LISTEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relation_delay_holds_the_successor_in_waiting() {
    let (cluster, clock) = TestCluster::start_at(tomorrow()).await;
    cluster
        .apply(
            "project: t\nname: delayed\ntasks:\n  - { name: first, type: shell, script: 'true' }\n  - { name: later, type: shell, script: 'true', depends_on: [{ task: first, delay: 10m }] }\n",
        )
        .await;
    let id = cluster.run("t/delayed", serde_json::json!({})).await;
    wait_task(&cluster, id, "later", |t| t.state == "waiting").await;
    // Nine minutes on, a whole evaluator round still leaves it waiting ...
    cluster.advance(&clock, Duration::from_secs(9 * 60));
    cluster.next_round(pgdag::service::rounds::EVALUATOR).await;
    let client = cluster.store.client().await.unwrap();
    let detail = instances::get(&client, id).await.unwrap().unwrap();
    assert_eq!(task(&detail, "later").state, "waiting");
    // ... and the tenth minute starts it.
    cluster.advance(&clock, Duration::from_secs(60));
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    assert_eq!(task(&detail, "later").state, "succeeded");
}

/// Poll until task `name` of instance `id` satisfies `done` (at most 30 s).
async fn wait_task(
    cluster: &TestCluster,
    id: i64,
    name: &str,
    done: impl Fn(&instances::TaskDetail) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let client = cluster.store.client().await.unwrap();
        let detail = instances::get(&client, id).await.unwrap().unwrap();
        if detail
            .tasks
            .iter()
            .flatten()
            .any(|t| t.name == name && done(t))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task {name} of instance {id}: {detail:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_timeouts_fail_or_warn_and_workflow_timeouts_alert() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            r#"
project: t
name: timeouts
timeout: 1s
tasks:
  - { name: killed, type: shell, script: "sleep 30 & wait", timeout: { after: 1s, strategy: fail } }
  - { name: warned, type: shell, script: "sleep 2; echo done", timeout: { after: 500ms, strategy: warn } }
"#,
        )
        .await;
    let started = std::time::Instant::now();
    let detail = cluster
        .wait_final(cluster.run("t/timeouts", serde_json::json!({})).await)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout killed the process group"
    );
    let killed = task(&detail, "killed");
    assert_eq!(killed.state, "failed");
    assert!(
        killed.error.as_deref().unwrap_or("").contains("timed out"),
        "{killed:?}"
    );
    let warned = task(&detail, "warned");
    assert_eq!(warned.state, "succeeded");
    assert!(
        log_text(&cluster.store, warned.id)
            .await
            .contains("timed out")
    );
    let client = cluster.store.client().await.unwrap();
    let kinds: Vec<String> = client
        .query(
            "select kind from pgdag.alert where workflow_instance_id = $1 order by kind",
            &[&detail.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, ["task_timeout", "workflow_timeout"]);
}

/// A fan-out wider than one evaluation round queues (256) is queued over several rounds,
/// highest priority first, and every task runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_wider_than_a_round_is_queued_over_rounds_by_priority() {
    let cluster = TestCluster::start().await;
    let mut yaml = String::from("project: t\nname: wide\ntasks:\n");
    for i in 0..299 {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'true' }}\n"
        ));
    }
    yaml.push_str("  - { name: urgent, type: shell, script: 'true', priority: highest }\n");
    cluster.apply(&yaml).await;
    let id = cluster.run("t/wide", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    let client = cluster.store.client().await.unwrap();
    let ran: i64 = client
        .query_one(
            "select count(*) from pgdag.task_instance
             where workflow_instance_id = $1 and state = 'succeeded' and attempt = 1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ran, 300, "every task ran once");
    // Declared last, ranked first: queued with the first round's 256, not after them.
    let place: i64 = client
        .query_one(
            "select count(*) from pgdag.task_instance
             where workflow_instance_id = $1
               and queued_at <= (select queued_at from pgdag.task_instance
                                 where workflow_instance_id = $1 and name = 'urgent')",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(place <= 256, "the urgent task was queued {place}th");
}

/// The start command's consumer queues a wide fan-out's first 256 in the transaction that
/// creates the run; the rest are queued by the evaluator at once, not when a first attempt
/// ends or the fallback poll comes. Here no worker runs and the poll is ten minutes away:
/// only the announcement of the due evaluation can queue them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_fan_out_wider_than_a_round_is_queued_whole_before_any_attempt_ends() {
    let cluster = TestCluster::start_with(&[pgdag::server::Role::Master], |c| {
        c.poll_interval = pgdag::model::Duration::from_secs(600);
    })
    .await;
    let mut yaml = String::from("project: t\nname: wide\ntasks:\n");
    for i in 0..300 {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'true' }}\n"
        ));
    }
    cluster.apply(&yaml).await;
    let id = cluster.run("t/wide", serde_json::json!({})).await;
    let client = cluster.store.client().await.unwrap();
    queued_by_round(&client, id, 300, "the rest waited for the poll").await;
}

/// Once attempts of an instance are in flight, a round may queue four times as many: a
/// 1,500-wide fan-out is queued by three rounds (256, 1,024, the rest), not six rounds of 256
/// that each read the instance's 1,500 task rows. The rounds are told apart by the
/// transaction that last wrote each task row (`xmin`); no worker runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_fan_out_is_queued_in_rounds_that_grow_with_the_attempts_in_flight() {
    let cluster = TestCluster::start_with(&[pgdag::server::Role::Master], |_| {}).await;
    let mut yaml = String::from("project: t\nname: wider\ntasks:\n");
    for i in 0..1_500 {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'true' }}\n"
        ));
    }
    cluster.apply(&yaml).await;
    let id = cluster.run("t/wider", serde_json::json!({})).await;
    let client = cluster.store.client().await.unwrap();
    let rounds = queued_by_round(&client, id, 1_500, "").await;
    assert_eq!(rounds, vec![220, 256, 1_024], "attempts queued per round");
}

/// Once `n` attempts of instance `id` are queued (polled, failing after 60 s with `why`):
/// how many each round queued, told apart by the transaction that last wrote each task row
/// (`xmin`), smallest first.
async fn queued_by_round(
    client: &deadpool_postgres::Object,
    id: i64,
    n: i64,
    why: &str,
) -> Vec<i64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = client
            .query(
                "select count(*) from pgdag.task_instance
                 where workflow_instance_id = $1 and state = 'queued'
                 group by xmin::text order by 1",
                &[&id],
            )
            .await
            .unwrap();
        let rounds: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        if rounds.iter().sum::<i64>() == n {
            return rounds;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} tasks queued: {rounds:?}; {why}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A short attempt's log is held back and written with its outcome: one row per attempt,
/// the pgdag lines and the program's output in order, not a first line in a flush of its
/// own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_attempts_whole_log_is_one_row_written_with_its_outcome() {
    let cluster = TestCluster::start().await;
    let mut yaml = String::from("project: t\nname: short\ntasks:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'echo one; echo two' }}\n"
        ));
    }
    cluster.apply(&yaml).await;
    let id = cluster.run("t/short", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    let client = cluster.store.client().await.unwrap();
    let rows = client
        .query(
            "select t.name, count(l.*), string_agg(l.text, '' order by l.seq)
             from pgdag.task_instance t left join pgdag.task_log l on l.task_instance_id = t.id
             where t.workflow_instance_id = $1 group by t.name order by t.name",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let (name, chunks, text): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(chunks, 1, "{name}'s log in one row: {text:?}");
        let at = |what: &str| {
            text.find(what)
                .unwrap_or_else(|| panic!("{name}'s log has {what:?}: {text:?}"))
        };
        assert!(at("[pgdag] attempt 1 of task") < at("one\n"));
        assert!(at("one\n") < at("two\n") && at("two\n") < at("[pgdag] succeeded"));
    }
}

/// Held-back lines are released once the attempt has run a moment: a running task's log
/// shows its first lines while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_attempts_first_lines_are_seen_while_it_runs() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let go = dir.path().join("go");
    cluster
        .apply(&format!(
            "project: t\nname: long\ntasks:\n  - name: wait\n    type: shell\n    script: |\n      echo started\n      while [ ! -e {} ]; do sleep 0.05; done\n      echo done\n",
            go.display()
        ))
        .await;
    let id = cluster.run("t/long", serde_json::json!({})).await;
    let detail = cluster
        .wait_for(id, "the task runs", |d| {
            d.tasks
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|t| t.state == "running")
        })
        .await;
    let task_id = task(&detail, "wait").id;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !log_text(&cluster.store, task_id)
        .await
        .contains("started\n")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first line was not seen while the task ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cluster.detail(id).await.tasks.unwrap()[0].state, "running");
    std::fs::write(&go, "").unwrap();
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    assert!(
        log_text(&cluster.store, task_id)
            .await
            .contains("started\ndone\n")
    );
}
