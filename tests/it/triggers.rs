//! Runs started by runs (issue 20, point 4): `triggers: [{ after, state }]`.

use std::time::{Duration, Instant};

use pgdag::model::CommandType;
use pgdag::store::commands;

use crate::harness::*;

const FLOWS: &str = r#"project: p
name: up
params: { n: "0" }
tasks:
  - name: count
    type: shell
    script: |
      test "${n}" != fail || exit 1
      echo '${setValue(rows=${n})}'
---
project: p
name: down
triggers: [{ after: up }]
tasks:
  - name: echo
    type: shell
    script: echo "got rows=${trigger.rows} from ${trigger.workflow} ${trigger.state} at ${system.datetime}"
---
project: p
name: on_fail
triggers: [{ after: p/up, state: failed }]
tasks:
  - { name: echo, type: shell, script: 'echo "up ${trigger.instance_id} failed"' }
---
project: p
name: off
release: offline
triggers: [{ after: up, state: any }]
tasks:
  - { name: a, type: empty }
---
project: q
name: cross
triggers: [{ after: p/up }]
tasks:
  - { name: echo, type: shell, script: 'echo "cross rows=${trigger.rows}"' }
"#;

/// A start of p/up with `n` and a schedule time.
async fn start_up(store: &pgdag::store::Store, n: &str, at: &str) -> i64 {
    let client = store.client().await.unwrap();
    commands::insert(
        &client,
        "cli:test",
        CommandType::Start,
        Some("p"),
        Some("up"),
        &serde_json::json!({ "n": n }),
        &serde_json::json!({ "schedule_time": at }),
        None,
    )
    .await
    .unwrap()
    .1
}

/// The instances of `project/workflow` once there are `count` of them and no start command
/// for it is pending: (id, created_by, schedule_time, params).
async fn instances_of(
    store: &pgdag::store::Store,
    project: &str,
    workflow: &str,
    count: usize,
) -> Vec<(
    i64,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    serde_json::Value,
)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = store.client().await.unwrap();
    loop {
        let rows = client
            .query(
                "select wi.id, wi.created_by, wi.schedule_time, wi.params,
                        (select count(*) from pgdag.command c
                         where c.project = $1 and c.workflow = $2 and c.state = 'pending') as pending
                 from pgdag.workflow_instance wi
                 join pgdag.workflow_definition wd on wd.code = wi.workflow_code
                 join pgdag.project p on p.id = wd.project_id
                 where p.name = $1 and wd.name = $2 order by wi.id",
                &[&project, &workflow],
            )
            .await
            .unwrap();
        if rows.len() == count && rows.iter().all(|r| r.get::<_, i64>(4) == 0) {
            return rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
        }
        assert!(
            rows.len() <= count,
            "{project}/{workflow} has {} instances, expected {count}",
            rows.len()
        );
        assert!(
            Instant::now() < deadline,
            "{project}/{workflow}: {} instances after 60 s, expected {count}",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Start commands that the end of instance `id` inserted, by target workflow.
async fn fired_by(store: &pgdag::store::Store, id: i64) -> Vec<String> {
    let client = store.client().await.unwrap();
    client
        .query(
            "select project || '/' || split_part(target, ' ', 1) from pgdag.audit
             where action = 'command.start' and actor like 'trigger:%#' || $1::text order by 1",
            &[&id.to_string()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_workflow_starts_exactly_once_per_upstream_end_with_two_masters() {
    let cluster = TestCluster::start().await;
    let second_master = pgdag::server::start(cluster.db.config(), &[pgdag::server::Role::Master])
        .await
        .expect("a second master starts");
    cluster.apply(FLOWS).await;
    let store = &cluster.store;

    let times = [
        "2026-03-01T02:00:00Z",
        "2026-03-02T02:00:00Z",
        "2026-03-03T02:00:00Z",
    ];
    let mut ups = Vec::new();
    for (i, at) in times.iter().enumerate() {
        ups.push(start_up(store, &format!("{}", 10 + i), at).await);
    }
    for &id in &ups {
        assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    }
    // Each end inserted its starts in the transaction that ended it: they are all there.
    for &id in &ups {
        assert_eq!(fired_by(store, id).await, ["p/down", "q/cross"], "up #{id}");
    }
    let downs = instances_of(store, "p", "down", 3).await;
    let mut seen_ups = Vec::new();
    for (id, created_by, schedule_time, params) in &downs {
        let up: i64 = params["trigger.instance_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let i = ups.iter().position(|&u| u == up).expect("one of the ups");
        seen_ups.push(up);
        assert_eq!(created_by, &format!("trigger:p/up#{up}"));
        let expected: chrono::DateTime<chrono::Utc> = times[i].parse().unwrap();
        assert_eq!(
            *schedule_time,
            Some(expected),
            "the upstream's schedule time"
        );
        let detail = cluster.wait_final(*id).await;
        assert_eq!(detail.state, "succeeded", "{detail:?}");
        let log = log_text(store, task(&detail, "echo").id).await;
        let day = &times[i][..10].replace('-', "");
        assert!(
            log.contains(&format!("got rows={} from p/up succeeded at {day}", 10 + i)),
            "{log}"
        );
    }
    seen_ups.sort();
    assert_eq!(seen_ups, ups, "one run per upstream run");
    // Across projects too; the offline workflow and the failure trigger started nothing.
    assert_eq!(instances_of(store, "q", "cross", 3).await.len(), 3);
    assert!(instances_of(store, "p", "off", 0).await.is_empty());
    assert!(instances_of(store, "p", "on_fail", 0).await.is_empty());

    // A failed run starts the `state: failed` workflow only.
    let failed = start_up(store, "fail", times[0]).await;
    assert_eq!(cluster.wait_final(failed).await.state, "failed");
    assert_eq!(fired_by(store, failed).await, ["p/on_fail"]);
    let on_fail = instances_of(store, "p", "on_fail", 1).await;
    let detail = cluster.wait_final(on_fail[0].0).await;
    let log = log_text(store, task(&detail, "echo").id).await;
    assert!(log.contains(&format!("up {failed} failed")), "{log}");
    assert_eq!(instances_of(store, "p", "down", 3).await.len(), 3);
    second_master.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_into_unreadable_projects_and_cycles_are_refused_at_apply() {
    use pgdag::store::members::{self, Access};
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: secret\nname: load\ntasks: [{ name: a, type: empty }]\n---\nproject: mine\nname: first\ntasks: [{ name: a, type: empty }]\n")
        .await;
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "dev", None, false)
        .await
        .unwrap();
    members::set(&client, "mine", "dev", Access::Write)
        .await
        .unwrap();
    let token = pgdag::store::users::create_token(&client, "dev", None, None)
        .await
        .unwrap()
        .token;
    let http = reqwest::Client::new();
    let post = |yaml: &'static str| {
        http.post(format!(
            "http://{}/api/v1/projects/mine/workflows",
            cluster.api()
        ))
        .bearer_auth(&token)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
    };
    let refused = post("project: mine\nname: report\ntriggers: [{ after: secret/load }]\ntasks: [{ name: a, type: empty }]\n")
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("triggers[0] of mine/report") && text.contains("project secret"),
        "{text}"
    );
    // With read access it is accepted.
    members::set(&client, "secret", "dev", Access::Read)
        .await
        .unwrap();
    let accepted = post("project: mine\nname: report\ntriggers: [{ after: secret/load }]\ntasks: [{ name: a, type: empty }]\n")
        .await
        .unwrap();
    assert_eq!(accepted.status(), 201, "{}", accepted.text().await.unwrap());
    // A bad key is refused at its line.
    let bad = post("project: mine\nname: r2\ntriggers:\n  - { after: report, on: failed }\ntasks: [{ name: a, type: empty }]\n")
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let text = bad.text().await.unwrap();
    assert!(text.contains("unknown key `on` in trigger"), "{text}");
    assert!(text.contains("request:4:"), "{text}");

    // A cycle through stored workflows is refused (CLI: exit 2), and nothing is stored.
    let dir = temp_dir();
    let file = dir.path().join("cycle.yaml");
    std::fs::write(
        &file,
        "project: mine\nname: a\ntriggers: [{ after: c }]\ntasks: [{ name: x, type: empty }]\n---\nproject: mine\nname: b\ntriggers: [{ after: a }]\ntasks: [{ name: x, type: empty }]\n---\nproject: mine\nname: c\ntriggers: [{ after: b }]\ntasks: [{ name: x, type: empty }]\n",
    )
    .unwrap();
    let out = pgdag(&cluster.db)
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("make a cycle (mine/c → mine/a → mine/b → mine/c)"),
        "{stderr}"
    );
    let stored: i64 = client
        .query_one(
            "select count(*) from pgdag.workflow_definition where name in ('a', 'b', 'c')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
}
