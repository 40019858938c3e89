//! Big DAGs: applying one stores a new task version only for the tasks that changed, the
//! instance page of a big instance shows an overview and a paged, filterable task table,
//! and the REST task list pages by id.

use std::collections::BTreeSet;

use crate::harness::*;
use pgdag::store::definitions;

/// Tasks in the big workflow: above the instance page's overview threshold (300).
const TASKS: usize = 1000;
/// Its last tasks fail (shell `exit 1`), the others are `empty`.
const FAILING: usize = 5;

/// Layers of 100 tasks, each waiting for the task above it; the last `FAILING` fail.
fn big_yaml(name: &str, changed: Option<usize>) -> String {
    let mut out = format!("project: big\nname: {name}\nfailure_strategy: continue\ntasks:\n");
    for i in 0..TASKS {
        if i >= TASKS - FAILING {
            out.push_str(&format!("  - {{ name: t{i}, type: shell, script: 'exit 1'"));
        } else if Some(i) == changed {
            out.push_str(&format!("  - {{ name: t{i}, type: empty, priority: high"));
        } else {
            out.push_str(&format!("  - {{ name: t{i}, type: empty"));
        }
        if i >= 100 {
            out.push_str(&format!(", depends_on: [t{}]", i - 100));
        }
        out.push_str(" }\n");
    }
    out
}

/// A cluster that ran the big workflow to its end (failed: `FAILING` tasks failed), an admin
/// token, and the instance id.
async fn ran_big() -> (TestCluster, String, i64) {
    let cluster = TestCluster::start().await;
    cluster.apply(&big_yaml("w", None)).await;
    let id = cluster.run("big/w", serde_json::json!({})).await;
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "failed");
    assert_eq!(done.tasks.as_ref().unwrap().len(), TASKS);
    let token = cluster.api_token("admin").await;
    (cluster, token, id)
}

async fn get(cluster: &TestCluster, token: &str, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("http://{}{path}", cluster.api()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The task names of a page's table rows.
fn rows(body: &str) -> Vec<String> {
    body.split("<tr data-task=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

/// The `href` of the element with id `id`, unescaped.
fn link(body: &str, id: &str) -> Option<String> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let tag_start = body[..at].rfind('<')?;
    let tag = &body[tag_start..body[at..].find('>')? + at];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_instance_page_shows_an_overview_and_pages_its_table() {
    let (cluster, token, id) = ran_big().await;
    let (status, page) = get(&cluster, &token, &format!("/instances/{id}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.len() < 1024 * 1024, "{} bytes", page.len());
    assert!(page.contains("DAG overview") && page.contains("class=\"pgdag-overview\""));
    assert!(
        page.contains("1000 tasks in 10 layers"),
        "the layers are counted"
    );
    assert!(page.contains("The 50 slowest of 1000 tasks"));
    assert!(page.contains("id=\"task-filter\""));
    assert_eq!(
        page.matches("class=\"segment state-failed\"").count(),
        1,
        "only the last layer has failed tasks"
    );
    // Walk the table with its "Next" links: every task once, 100 at a time, in order.
    let first = rows(&page);
    assert_eq!(first.len(), 100);
    assert_eq!(first[0], "t0");
    assert!(page.contains("Tasks 1–100 of 1000"));
    let mut seen: Vec<String> = first;
    let mut next = link(&page, "tasks-next");
    let mut pages = 1;
    while let Some(href) = next {
        assert!(href.contains("after="), "{href}");
        let (status, page) = get(&cluster, &token, &href).await;
        assert_eq!(status, 200);
        let names = rows(&page);
        assert!(!names.is_empty() && names.len() <= 100);
        assert!(
            link(&page, "tasks-first").is_some(),
            "a later page links back"
        );
        seen.extend(names);
        next = link(&page, "tasks-next");
        pages += 1;
        assert!(pages <= 10, "more pages than tasks allow");
    }
    assert_eq!(pages, 10);
    let expected: Vec<String> = (0..TASKS).map(|i| format!("t{i}")).collect();
    assert_eq!(seen, expected);

    // The state filter, and the Gantt chart of the filtered tasks.
    let (status, failed) = get(&cluster, &token, &format!("/instances/{id}?state=failed")).await;
    assert_eq!(status, 200);
    let expected: Vec<String> = (TASKS - FAILING..TASKS).map(|i| format!("t{i}")).collect();
    assert_eq!(rows(&failed), expected);
    assert!(failed.contains("Tasks 1–5 of 5 matching the filter"));
    assert!(failed.contains("The tasks listed below"));
    assert!(link(&failed, "tasks-next").is_none());
    assert!(failed.contains("<option value=\"failed\" selected>"));
    // A name prefix, and both.
    let (_, some) = get(&cluster, &token, &format!("/instances/{id}?prefix=t99")).await;
    let expected: Vec<String> = std::iter::once(99)
        .chain(990..1000)
        .map(|i| format!("t{i}"))
        .collect();
    assert_eq!(rows(&some), expected);
    let (_, both) = get(
        &cluster,
        &token,
        &format!("/instances/{id}?state=succeeded&prefix=t99"),
    )
    .await;
    assert_eq!(rows(&both).len(), 11 - FAILING);
    // The refresh fragment carries the same filter and stays small.
    let (status, live) = get(
        &cluster,
        &token,
        &format!("/instances/{id}?partial=live&state=failed"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(rows(&live).len(), FAILING);
    assert!(live.len() < 200 * 1024, "{} bytes", live.len());
    let (status, bad) = get(&cluster, &token, &format!("/instances/{id}?state=done")).await;
    assert_eq!(status, 400, "{bad}");
    let (status, _) = get(&cluster, &token, &format!("/instances/{id}?after=x")).await;
    assert_eq!(status, 400);

    // A small instance keeps the whole DAG and table.
    cluster
        .apply("project: big\nname: small\ntasks:\n  - { name: a, type: empty }\n  - { name: b, type: empty, depends_on: [a] }\n")
        .await;
    let small = cluster.run("big/small", serde_json::json!({})).await;
    cluster.wait_final(small).await;
    let (_, page) = get(&cluster, &token, &format!("/instances/{small}")).await;
    assert!(page.contains("<h2>DAG</h2>") && !page.contains("DAG overview"));
    assert_eq!(rows(&page), ["a", "b"]);
    assert!(!page.contains("id=\"task-filter\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_task_pages_walk_every_task_once() {
    let (cluster, token, id) = ran_big().await;
    let page = |query: String| {
        let (cluster, token) = (&cluster, &token);
        async move {
            let (status, body) = get(
                cluster,
                token,
                &format!("/api/v1/instances/{id}/tasks{query}"),
            )
            .await;
            (
                status,
                serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let mut ids: Vec<i64> = Vec::new();
    let mut after: Option<i64> = None;
    let mut calls = 0;
    loop {
        let query = match after {
            None => "?limit=150".to_string(),
            Some(a) => format!("?limit=150&after={a}"),
        };
        let (status, body) = page(query).await;
        assert_eq!(status, 200, "{body}");
        let tasks = body["tasks"].as_array().unwrap();
        assert!(tasks.len() <= 150);
        ids.extend(tasks.iter().map(|t| t["id"].as_i64().unwrap()));
        calls += 1;
        assert!(calls <= 7, "more pages than tasks allow");
        match body["next"].as_i64() {
            Some(next) => {
                assert_eq!(Some(next), ids.last().copied());
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(calls, 7, "1000 tasks in pages of 150");
    assert_eq!(ids.len(), TASKS);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in id order, each once"
    );
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), TASKS);

    // Default page size 100; the state filter, one state or a list.
    let (_, body) = page(String::new()).await;
    assert_eq!(body["tasks"].as_array().unwrap().len(), 100);
    assert_eq!(body["next"], ids[99]);
    let (_, body) = page("?state=failed".into()).await;
    let failed = body["tasks"].as_array().unwrap();
    assert_eq!(failed.len(), FAILING);
    assert!(failed.iter().all(|t| t["state"] == "failed"));
    assert_eq!(body["next"], serde_json::Value::Null);
    let (_, body) = page("?state=failed,%20succeeded&limit=1000".into()).await;
    assert_eq!(body["tasks"].as_array().unwrap().len(), TASKS);
    assert_eq!(body["next"], serde_json::Value::Null);

    // Bad values answer 400 naming the parameter.
    for (query, name) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=x", "limit"),
        ("?state=done", "state"),
        ("?state=failed,", "state"),
        ("?after=x", "after"),
    ] {
        let (status, body) = page(query.into()).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(name), "{query}: {message}");
    }
    // The whole instance is still one body.
    let (status, whole) = get(&cluster, &token, &format!("/api/v1/instances/{id}")).await;
    assert_eq!(status, 200);
    let whole: serde_json::Value = serde_json::from_str(&whole).unwrap();
    assert_eq!(whole["tasks"].as_array().unwrap().len(), TASKS);
}

/// Applying a changed workflow of many tasks stores a new version of the changed task only;
/// the new workflow version's relations point at it and at the others' old versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_a_big_workflow_again_versions_only_the_changed_task() {
    let db = TestDb::new().await;
    let store = db.store();
    let first = apply(&store, &big_yaml("w", None)).await;
    assert_eq!(first[0].version, 1);
    let again = apply(&store, &big_yaml("w", None)).await;
    assert_eq!(again[0].outcome, definitions::ApplyOutcome::Unchanged);
    let changed = apply(&store, &big_yaml("w", Some(500))).await;
    assert_eq!(changed[0].version, 2);
    assert_eq!(changed[0].outcome, definitions::ApplyOutcome::Updated);
    let client = store.client().await.unwrap();
    let code = definitions::workflow_code("big", "w");
    let v1 = definitions::load_version(&client, code, 1).await.unwrap();
    let v2 = definitions::load_version(&client, code, 2).await.unwrap();
    assert!(v1.task_versions.iter().all(|v| *v == 1));
    let bumped: Vec<&str> = v2
        .spec
        .tasks
        .iter()
        .zip(&v2.task_versions)
        .filter(|(_, v)| **v == 2)
        .map(|(t, _)| t.name.as_str())
        .collect();
    assert_eq!(bumped, ["t500"]);
    assert!(v2.task_versions.iter().all(|v| *v == 1 || *v == 2));
    // Back to the first text: the task gets a third version, numbered after the highest.
    let back = apply(&store, &big_yaml("w", None)).await;
    assert_eq!(back[0].version, 3);
    let v3 = definitions::load_version(&client, code, 3).await.unwrap();
    let t500 = v3.spec.tasks.iter().position(|t| t.name == "t500").unwrap();
    assert_eq!(v3.task_versions[t500], 3);
}

const COUNT_CHILD_VAR: &str = "PGDAG_TEST_APPLY_COUNT_CHILD";

/// The statements an apply sends do not grow with the number of tasks. The statement counter
/// is process-wide and this binary runs its tests in parallel: the applies are counted in a
/// process of its own (this binary again, running only the test below).
#[test]
fn applying_sends_as_many_statements_for_1000_tasks_as_for_10() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "bigdag::counted_applies",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(COUNT_CHILD_VAR, "1")
        .output()
        .expect("run this test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the counted applies ran: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "counted in a process of its own by applying_sends_as_many_statements_for_1000_tasks_as_for_10"]
async fn counted_applies() {
    use std::sync::atomic::Ordering;
    if std::env::var_os(COUNT_CHILD_VAR).is_none() {
        return; // run with --ignored among other tests: the count would not be ours alone
    }
    let db = TestDb::new().await;
    let store = db.store();
    // The pool's connection is opened (and set up, one statement) before counting.
    drop(store.client().await.unwrap());
    let chain = |name: &str, tasks: usize, changed: bool| {
        let mut out = format!("project: count\nname: {name}\ntasks:\n");
        for i in 0..tasks {
            let script = if changed && i == tasks / 2 {
                "false"
            } else {
                "true"
            };
            out.push_str(&format!("  - {{ name: t{i}, type: shell, script: {script}"));
            if i > 0 {
                out.push_str(&format!(", depends_on: [t{}]", i - 1));
            }
            out.push_str(" }\n");
        }
        out
    };
    let mut counts = Vec::new();
    for (name, tasks) in [("small", 10), ("big", 1000)] {
        let mut sent = Vec::new();
        for changed in [false, false, true] {
            let before = pgdag::metrics::QUERIES.load(Ordering::SeqCst);
            apply(&store, &chain(name, tasks, changed)).await;
            sent.push(pgdag::metrics::QUERIES.load(Ordering::SeqCst) - before);
        }
        println!("{tasks} tasks: statements for created, unchanged, one task changed: {sent:?}");
        counts.push(sent);
    }
    assert_eq!(counts[0], counts[1]);
}
