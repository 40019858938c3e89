//! Mapped tasks (`foreach:`): one item per element of a list from an upstream `sql` task or
//! a param, `max_parallel`, the outputs list downstream, an empty list, a too-long list, and
//! retry / force-success of single items. Read through REST, the SQL view and the CLI.

use pgdag::store::instances;

use crate::harness::*;

/// A datasource on the test's own database (the scheduler's, so it must be allowed),
/// without a password (trust auth), so the in-process worker needs no secret key.
fn datasource(db: &TestDb) -> String {
    format!(
        "kind: datasource\nproject: m\nname: pg\ntype: postgres\nurl: {}\nallow_scheduler_database: true\n---\n",
        db.url
    )
}

fn items(d: &instances::InstanceDetail, task: &str) -> Vec<instances::TaskDetail> {
    let prefix = format!("{task}[");
    let mut items: Vec<_> = d
        .tasks
        .iter()
        .flatten()
        .filter(|t| t.name.starts_with(&prefix))
        .cloned()
        .collect();
    items.sort_by_key(|t| t.map_index);
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_task_runs_one_item_per_row_of_an_upstream_sql_task() {
    let cluster = TestCluster::start().await;
    let yaml = format!(
        r#"{ds}project: m
name: fan
tasks:
  - name: list
    type: sql
    datasource: pg
    sql: "select * from (values ('a'), ('b'), ('c')) as v(col) order by col"
    out_rows: rows
  - name: each
    type: shell
    foreach: "${{rows}}"
    max_parallel: 2
    script: |
      sleep 0.3
      echo '${{setValue(got=${{item.col}}-${{item_index}})}}'
    depends_on: [list]
  - name: after
    type: shell
    script: echo 'got=${{got}} all=${{each.outputs}}'
    depends_on: [each]
"#,
        ds = datasource(&cluster.db)
    );
    cluster.apply(&yaml).await;
    let id = cluster.run("m/fan", serde_json::json!({})).await;
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "succeeded", "{done:?}");

    // REST: every item, with its index; the mapped task with its count and outputs.
    let token = cluster.api_token("mapped").await;
    let body = cluster.get_api(&token, &format!("/instances/{id}")).await;
    let tasks = body["tasks"].as_array().unwrap();
    let named = |n: &str| tasks.iter().find(|t| t["name"] == n).unwrap().clone();
    for i in 0..3 {
        let item = named(&format!("each[{i}]"));
        assert_eq!(item["map_index"], i, "{item}");
        assert_eq!(item["state"], "succeeded", "{item}");
    }
    let parent = named("each");
    assert_eq!(parent["state"], "succeeded");
    assert_eq!(parent["map_count"], 3);
    assert!(parent.get("map_index").is_none(), "{parent}");
    assert_eq!(
        parent["out_params"]["got"],
        serde_json::json!(["a-0", "b-1", "c-2"])
    );
    let log = log_text(&cluster.store, task(&done, "after").id).await;
    assert!(
        log.contains(r#"got=["a-0","b-1","c-2"] all=[{"got":"a-0"},{"got":"b-1"},{"got":"c-2"}]"#),
        "{log}"
    );

    // The instance page draws the mapped task as one node with its items' counts.
    let page = reqwest::Client::new()
        .get(format!("http://{}/instances/{id}", cluster.api()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("3 ✓ 0 ▶ 0 ✗ / 3"), "{page}");
    assert!(
        page.contains(r#"data-task="each[2]""#),
        "the task table lists the items"
    );

    // The SQL view shows the items with their index.
    let client = cluster.store.client().await.unwrap();
    let rows = client
        .query(
            "select name, state, map_index from pgdag.task_instance_v where workflow_instance_id = $1 and map_index is not null order by map_index",
            &[&id],
        )
        .await
        .unwrap();
    let seen: Vec<(String, String, i32)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        seen,
        (0..3)
            .map(|i| (format!("each[{i}]"), "succeeded".to_string(), i))
            .collect::<Vec<_>>()
    );
    // max_parallel: 2 — no moment had three items running.
    let overlap: i64 = client
        .query_one(
            "select coalesce(max((select count(*) from pgdag.task_instance o
                                  where o.workflow_instance_id = s.workflow_instance_id
                                    and o.map_index is not null
                                    and o.started_at <= s.started_at and o.ended_at > s.started_at)), 0)
             from pgdag.task_instance s where s.workflow_instance_id = $1 and s.map_index is not null",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!((1..=2).contains(&overlap), "{overlap} items ran at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_skips_the_mapped_task_and_its_successors() {
    let cluster = TestCluster::start().await;
    let yaml = format!(
        r#"{ds}project: m
name: none
tasks:
  - name: list
    type: sql
    datasource: pg
    sql: "select 1 as col where false"
    out_rows: rows
  - name: each
    type: shell
    foreach: "${{rows}}"
    script: echo '${{item}}'
    depends_on: [list]
  - name: after
    type: shell
    script: echo after
    depends_on: [each]
"#,
        ds = datasource(&cluster.db)
    );
    cluster.apply(&yaml).await;
    let id = cluster.run("m/none", serde_json::json!({})).await;
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "succeeded", "{done:?}");
    assert_eq!(task(&done, "each").state, "skipped");
    assert_eq!(task(&done, "after").state, "skipped");
    assert!(items(&done, "each").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_longer_than_the_bound_fails_the_task_with_the_reason() {
    let cluster = TestCluster::start_with(&pgdag::server::Role::ALL, |c| c.max_map_items = 2).await;
    cluster
        .apply("project: m\nname: long\nparams: { files: '[\"x\", \"y\", \"z\"]' }\ntasks:\n  - { name: each, type: shell, foreach: '${files}', script: 'echo ${item}' }\n  - { name: not_a_list, type: shell, foreach: '${system.workflow.instance.id}', script: 'true' }\n")
        .await;
    let id = cluster.run("m/long", serde_json::json!({})).await;
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "failed");
    let each = task(&done, "each");
    assert_eq!(each.state, "failed");
    assert_eq!(
        each.error.as_deref(),
        Some("task each: foreach list has 3 items, more than the bound 2 (PGDAG_MAX_MAP_ITEMS)")
    );
    assert!(items(&done, "each").is_empty());
    let other = task(&done, "not_a_list");
    assert_eq!(other.state, "failed");
    let why = other.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("task not_a_list: `foreach` must expand to a JSON list, not a JSON number"),
        "{why}"
    );

    // Within the bound, the same workflow runs its items.
    let id = cluster
        .run("m/long", serde_json::json!({"files": "[\"x\", \"y\"]"}))
        .await;
    let done = cluster.wait_final(id).await;
    assert_eq!(task(&done, "each").state, "succeeded", "{done:?}");
    assert_eq!(items(&done, "each").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_items_fail_the_task_and_are_retried_or_forced_one_by_one() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let fixed = dir.path().join("fixed");
    cluster
        .apply(&format!(
            "project: m\nname: fix\ntasks:\n  - name: each\n    type: shell\n    foreach: '[0, 1, 2]'\n    script: |\n      test ${{item}} = 0 && exit 0\n      test ${{item}} = 1 && test -e {} && exit 0\n      exit 3\n  - {{ name: after, type: shell, script: 'echo after', depends_on: [each] }}\n",
            fixed.display()
        ))
        .await;
    let id = cluster.run("m/fix", serde_json::json!({})).await;
    let failed = cluster.wait_final(id).await;
    assert_eq!(failed.state, "failed");
    let each = task(&failed, "each");
    assert_eq!(each.state, "failed");
    assert_eq!(
        each.error.as_deref(),
        Some("2 of 3 items failed: each[1], each[2]")
    );
    assert_eq!(task(&failed, "after").state, "skipped");
    let list = items(&failed, "each");
    let states: Vec<&str> = list.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(states, ["succeeded", "failed", "failed"]);

    // REST retry of item 1 after the fix: it alone runs again; item 2 still fails the task.
    std::fs::write(&fixed, "").unwrap();
    let token = cluster.api_token("mapped").await;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/task-instances/{}/retry",
            cluster.api(),
            list[1].id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let again = cluster
        .wait_for(id, "item 1 retried", |d| {
            d.state == "failed" && items(d, "each")[1].state == "succeeded"
        })
        .await;
    assert_eq!(
        task(&again, "each").error.as_deref(),
        Some("1 of 3 items failed: each[2]")
    );
    assert_eq!(
        items(&again, "each")[0].attempt,
        1,
        "item 0 kept its result"
    );

    // CLI force-success of item 2: the mapped task succeeds and the run goes on.
    let out = pgdag(&cluster.db)
        .args(["ctl", "force-success", &list[2].id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let done = cluster
        .wait_for(id, "forced to success", |d| d.state == "succeeded")
        .await;
    assert_eq!(task(&done, "each").state, "succeeded");
    assert_eq!(task(&done, "after").state, "succeeded");
    assert_eq!(items(&done, "each")[2].state, "forced_success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_kills_running_items_and_start_failed_runs_only_the_unfinished_ones() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let flag = dir.path().join("go");
    cluster
        .apply(&format!(
            "project: m\nname: halt\ntasks:\n  - {{ name: each, type: shell, foreach: '[0, 1, 2, 3]', max_parallel: 2, script: 'test ${{item}} = 0 || test -e {} || sleep 60' }}\n  - {{ name: after, type: shell, script: 'echo after', depends_on: [each] }}\n",
            flag.display()
        ))
        .await;
    let id = cluster.run("m/halt", serde_json::json!({})).await;
    // Item 0 ends at once; two others then run (max_parallel: 2), and item 3 waits.
    let busy = cluster
        .wait_for(id, "item 0 done and two items running", |d| {
            let list = items(d, "each");
            list.first().is_some_and(|t| t.state == "succeeded")
                && list.iter().filter(|t| t.state == "running").count() == 2
        })
        .await;
    let list = items(&busy, "each");
    assert_eq!(list[0].state, "succeeded");
    assert_eq!(list[3].state, "pending");
    let out = pgdag(&cluster.db)
        .args(["ctl", "stop", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stopped = cluster
        .wait_for(id, "stopped", |d| d.state == "stopped")
        .await;
    assert_eq!(task(&stopped, "each").state, "killed");
    let states: Vec<String> = items(&stopped, "each")
        .iter()
        .map(|t| t.state.clone())
        .collect();
    assert_eq!(states, ["succeeded", "killed", "killed", "pending"]);

    std::fs::write(&flag, "").unwrap();
    let out = pgdag(&cluster.db)
        .args(["ctl", "start-failed", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let done = cluster
        .wait_for(id, "succeeded", |d| d.state == "succeeded")
        .await;
    let list = items(&done, "each");
    assert!(list.iter().all(|t| t.state == "succeeded"), "{list:?}");
    assert_eq!(list[0].attempt, 1, "item 0 kept its result");
    assert_eq!(list[1].attempt, 2);
    assert_eq!(task(&done, "after").state, "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_strategy_end_kills_running_items_and_skips_waiting_ones() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let flag = dir.path().join("fail-now");
    cluster
        .apply(&format!(
            "project: m\nname: end\nfailure_strategy: end\ntasks:\n  - {{ name: boom, type: shell, script: 'while ! test -e {}; do sleep 0.05; done; exit 1' }}\n  - {{ name: each, type: shell, foreach: '[0, 1, 2]', max_parallel: 1, script: 'sleep 60' }}\n",
            flag.display()
        ))
        .await;
    let id = cluster.run("m/end", serde_json::json!({})).await;
    cluster
        .wait_for(id, "an item running", |d| {
            items(d, "each")
                .first()
                .is_some_and(|t| t.state == "running")
        })
        .await;
    std::fs::write(&flag, "").unwrap();
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "failed");
    assert_eq!(task(&done, "boom").state, "failed");
    assert_eq!(task(&done, "each").state, "killed");
    let states: Vec<String> = items(&done, "each")
        .iter()
        .map(|t| t.state.clone())
        .collect();
    assert_eq!(states, ["killed", "skipped", "skipped"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_lets_running_items_finish_and_resume_starts_the_rest() {
    let cluster = TestCluster::start().await;
    let dir = temp_dir();
    let flag = dir.path().join("go");
    cluster
        .apply(&format!(
            "project: m\nname: rest\ntasks:\n  - {{ name: each, type: shell, foreach: '[0, 1, 2]', max_parallel: 1, script: 'while ! test -e {}; do sleep 0.05; done' }}\n",
            flag.display()
        ))
        .await;
    let id = cluster.run("m/rest", serde_json::json!({})).await;
    cluster
        .wait_for(id, "item 0 running", |d| {
            items(d, "each")
                .first()
                .is_some_and(|t| t.state == "running")
        })
        .await;
    let ctl = |verb: &str| {
        let out = pgdag(&cluster.db)
            .args(["ctl", verb, &id.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{verb}: {out:?}");
    };
    ctl("pause");
    cluster
        .wait_for(id, "pausing", |d| d.state == "pausing")
        .await;
    std::fs::write(&flag, "").unwrap();
    let paused = cluster
        .wait_for(id, "paused", |d| d.state == "paused")
        .await;
    assert_eq!(
        task(&paused, "each").state,
        "pending",
        "suspended, still expanded"
    );
    let states: Vec<String> = items(&paused, "each")
        .iter()
        .map(|t| t.state.clone())
        .collect();
    assert_eq!(states, ["succeeded", "pending", "pending"]);
    ctl("resume");
    let done = cluster
        .wait_for(id, "succeeded", |d| d.state == "succeeded")
        .await;
    assert_eq!(task(&done, "each").map_count, Some(3));
    assert!(
        items(&done, "each")
            .iter()
            .all(|t| t.state == "succeeded" && t.attempt == 1)
    );
}

/// A rerun expands a mapped task's list again: the old items' task rows go, and their log
/// rows with them (V24: no foreign key cascades there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_drops_the_old_items_with_their_logs() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: m\nname: again\ntasks:\n  - { name: each, type: shell, foreach: '[0, 1]', script: 'echo item' }\n")
        .await;
    let id = cluster.run("m/again", serde_json::json!({})).await;
    let first = cluster.wait_final(id).await;
    assert_eq!(first.state, "succeeded");
    let old: Vec<i64> = items(&first, "each").iter().map(|t| t.id).collect();
    assert_eq!(old.len(), 2);
    let client = cluster.store.client().await.unwrap();
    client
        .execute(
            "insert into pgdag.command (command_type, workflow_instance_id) values ('rerun', $1)",
            &[&id],
        )
        .await
        .unwrap();
    let second = cluster
        .wait_for(id, "the rerun ends", |d| {
            d.state == "succeeded" && items(d, "each").iter().all(|t| !old.contains(&t.id))
        })
        .await;
    assert_eq!(items(&second, "each").len(), 2);
    let left = task_and_log_rows(&client, &old).await;
    assert_eq!(left, 0, "rows of the old items left");
}
