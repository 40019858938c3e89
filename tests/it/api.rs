//! The REST API over real HTTP.

use crate::harness::*;

async fn token(cluster: &TestCluster) -> String {
    cluster.api_token("alice").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_start_instances_read_and_logs_page_through_rest() {
    let cluster = TestCluster::start().await;
    let base = format!("http://{}", cluster.api());
    let http = reqwest::Client::new();
    let token = token(&cluster).await;

    // Health needs no token; everything under /api/v1 does.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let anonymous = http
        .get(format!("{base}/api/v1/projects"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = http
        .get(format!("{base}/api/v1/projects"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Define a workflow through the API (YAML body).
    let yaml = "project: web\nname: lines\ntasks:\n  - name: many\n    type: shell\n    script: |\n      for i in $(seq 1 5); do echo line$i; done\n";
    let created = http
        .post(format!("{base}/api/v1/projects/web/workflows"))
        .bearer_auth(&token)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let bad = http
        .post(format!("{base}/api/v1/projects/web/workflows"))
        .bearer_auth(&token)
        .body("project: web\nname: bad\ntasks:\n  - name: x\n    type: shell\n    scrpt: echo\n")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let message = bad.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("request:6"), "{message}");

    let listed: serde_json::Value = http
        .get(format!("{base}/api/v1/projects/web/workflows"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["workflows"][0]["name"], "lines");
    let versions: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/projects/web/workflows/lines/versions"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions["versions"][0]["version"], 1);

    let started = http
        .post(format!("{base}/api/v1/projects/web/workflows/lines/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"params": {"x": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 201);
    let id = started.json::<serde_json::Value>().await.unwrap()["instance_ids"][0]
        .as_i64()
        .unwrap();
    cluster.wait_final(id).await;

    let instance: serde_json::Value = http
        .get(format!("{base}/api/v1/instances/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "id",
        "project",
        "workflow",
        "version",
        "state",
        "schedule_time",
        "started_at",
        "ended_at",
        "params",
        "tasks",
    ] {
        assert!(instance.get(key).is_some(), "missing {key} in {instance}");
    }
    assert_eq!(instance["state"], "succeeded");
    assert_eq!(instance["params"]["x"], "1");
    let task = &instance["tasks"][0];
    for key in [
        "id",
        "name",
        "type",
        "state",
        "attempt",
        "host",
        "started_at",
        "ended_at",
        "exit_code",
        "out_params",
    ] {
        assert!(task.get(key).is_some(), "missing {key} in {task}");
    }
    let task_id = task["id"].as_i64().unwrap();

    // The log, from the beginning, then from next_seq: nothing more, finished.
    let page: serde_json::Value = http
        .get(format!("{base}/api/v1/task-instances/{task_id}/log"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = page["text"].as_str().unwrap();
    assert!(
        text.contains("line1\n") && text.contains("line5\n"),
        "{text}"
    );
    let next = page["next_seq"].as_i64().unwrap();
    assert!(next >= 1);
    let rest: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/task-instances/{task_id}/log?after={next}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["text"], "");
    assert_eq!(rest["next_seq"], next);
    assert_eq!(rest["finished"], true);

    // The last part: `tail=1` is the last chunk, `before=first_seq` the part before it.
    let get = |query: String| {
        let http = http.clone();
        let token = token.clone();
        let url = format!("{base}/api/v1/task-instances/{task_id}/log?{query}");
        async move {
            let r = http.get(url).bearer_auth(&token).send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let last = get("tail=1".into()).await;
    assert_eq!(last["next_seq"], next);
    assert_eq!(last["first_seq"], next - 1);
    assert_eq!(last["finished"], true);
    assert!(text.ends_with(last["text"].as_str().unwrap()));
    let earlier = get(format!("tail=1000&before={}", next - 1)).await;
    assert_eq!(earlier["first_seq"], 0);
    assert_eq!(
        format!(
            "{}{}",
            earlier["text"].as_str().unwrap(),
            last["text"].as_str().unwrap()
        ),
        text
    );

    // Tenants: admin only, JSON body, listed, deleted.
    let put = http
        .put(format!("{base}/api/v1/tenants/analysts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"os_user": "ana", "projects": ["demo"], "default_for": ["demo"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    // A project has one default tenant, and only one that it may use.
    for (body, status, says) in [
        (
            serde_json::json!({"os_user": "bea", "projects": ["demo"], "default_for": ["demo"]}),
            409,
            "project demo already has default tenant analysts",
        ),
        (
            serde_json::json!({"os_user": "bea", "projects": [], "default_for": ["demo"]}),
            422,
            "project demo is in `default_for` but not in `projects`",
        ),
    ] {
        let refused = http
            .put(format!("{base}/api/v1/tenants/other"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), status);
        let text = refused.text().await.unwrap();
        assert!(text.contains(says), "{text}");
    }
    let bad = http
        .put(format!("{base}/api/v1/tenants/analysts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"os_user": "Root;x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let listed: serde_json::Value = http
        .get(format!("{base}/api/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["tenants"],
        serde_json::json!([{"name": "analysts", "os_user": "ana", "projects": ["demo"], "default_for": ["demo"]}])
    );
    let deleted = http
        .delete(format!("{base}/api/v1/tenants/analysts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);

    // Errors are JSON with the right status.
    let missing = http
        .get(format!("{base}/api/v1/instances/999999"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad_id = http
        .get(format!("{base}/api/v1/instances/abc"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);
    let no_workflow = http
        .post(format!("{base}/api/v1/projects/web/workflows/nope/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_workflow.status(), 404);
    let bad_body = http
        .post(format!("{base}/api/v1/projects/web/workflows/lines/runs"))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_body.status(), 400);

    // Cluster observability: the servers list and Prometheus metrics.
    let servers: serde_json::Value = http
        .get(format!("{base}/api/v1/servers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = servers["servers"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{servers}");
    for key in [
        "id",
        "name",
        "roles",
        "host",
        "pid",
        "leader",
        "worker_groups",
        "heartbeat_age_ms",
        "running_tasks",
        "started_at",
    ] {
        assert!(list[0].get(key).is_some(), "missing {key} in {servers}");
    }
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for name in [
        "pgdag_queries_total",
        "pgdag_task_claims_total",
        "pgdag_notifications_received_total",
        "pgdag_rejected_writes_total",
        "pgdag_failover_attempts_total",
        "pgdag_queue_depth",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    let claims: u64 = text
        .lines()
        .find(|l| l.starts_with("pgdag_task_claims_total "))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        claims >= 1,
        "the run above was claimed by this process's worker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_preview_and_schedules_share_the_firing_engine() {
    let cluster = TestCluster::start().await;
    let base = format!("http://{}", cluster.api());
    let http = reqwest::Client::new();
    let token = token(&cluster).await;
    // Spring forward in Berlin: 02:30 does not exist on 2026-03-29 and runs at 03:30.
    let preview: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/cron/preview?expr=0%2030%202%20*%20*%20%3F&tz=Europe/Berlin&from=2026-03-28T00:00:00Z&count=3"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview["times"],
        serde_json::json!([
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:30:00+02:00",
            "2026-03-30T02:30:00+02:00"
        ])
    );
    let bad = http
        .get(format!(
            "{base}/api/v1/cron/preview?expr=0%2061%20*%20*%20*%20%3F"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    cluster
        .apply("project: s\nname: nightly\nschedule: { cron: \"0 0 2 * * ?\", timezone: Europe/Berlin }\ntasks:\n  - { name: t, type: shell, script: 'true' }\n")
        .await;
    let schedules: serde_json::Value = http
        .get(format!("{base}/api/v1/schedules"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = schedules["schedules"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{schedules}");
    assert_eq!(list[0]["cron"], "0 0 2 * * ?");
    assert_eq!(list[0]["timezone"], "Europe/Berlin");
    assert_eq!(list[0]["enabled"], true);

    // A bad cron expression is rejected at apply time, at the schedule's line.
    let errors = pgdag::apply::check_text(
        "bad.yaml",
        "project: s\nname: bad\nschedule: { cron: \"0 0 25 * * ?\" }\ntasks:\n  - { name: t, type: shell, script: 'true' }\n",
    )
    .unwrap_err();
    assert_eq!(errors[0].line, 3, "{errors:?}");
    assert!(errors[0].message.contains("hours"), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_added_through_rest_fires_every_two_seconds() {
    let start = tomorrow();
    let (cluster, clock) = TestCluster::start_at(start).await;
    let base = format!("http://{}", cluster.api());
    let http = reqwest::Client::new();
    let token = token(&cluster).await;
    cluster
        .apply("project: s\nname: tick\ntasks:\n  - { name: t, type: shell, script: 'echo ${system.datetime}' }\n")
        .await;
    let created = http
        .post(format!("{base}/api/v1/schedules"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"project": "s", "workflow": "tick", "cron": "*/2 * * * * ?", "timezone": "Europe/Berlin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    // Added at `start` (an even second): it fires at once, then at every 2 s of the clock.
    let fired = || async {
        let client = cluster.store.client().await.unwrap();
        client
            .query_one("select count(*) from pgdag.schedule_fire", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    cluster.next_round(pgdag::service::rounds::FIRER).await;
    assert_eq!(
        fired().await,
        1,
        "the first fire, at the schedule's creation"
    );
    for step in 1..=5 {
        // One second on: not due yet, and a whole round of the firer proves it.
        cluster.advance(&clock, std::time::Duration::from_secs(1));
        cluster.next_round(pgdag::service::rounds::FIRER).await;
        assert_eq!(fired().await, step, "no fire between two fire times");
        cluster.advance(&clock, std::time::Duration::from_secs(1));
        cluster.next_round(pgdag::service::rounds::FIRER).await;
        assert_eq!(fired().await, step + 1, "a fire every 2 s");
    }
    let deleted = http
        .delete(format!("{base}/api/v1/schedules/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    // Each fire became an instance with the fire time as its schedule time.
    let client = cluster.store.client().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let times: Vec<chrono::DateTime<chrono::Utc>> = loop {
        let rows = client
            .query(
                "select schedule_time from pgdag.workflow_instance
                 where command_type = 'schedule' order by schedule_time",
                &[],
            )
            .await
            .unwrap();
        if rows.len() == 6 {
            break rows.iter().map(|r| r.get(0)).collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of 6 fires became instances",
            rows.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let expected: Vec<chrono::DateTime<chrono::Utc>> = (0..6)
        .map(|i| start + chrono::Duration::seconds(2 * i))
        .collect();
    assert_eq!(times, expected, "fires at the clock's every 2 s");
    let bad = http
        .post(format!("{base}/api/v1/schedules"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"project": "s", "workflow": "tick", "cron": "0 0 25 * * ?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_may_override_priority_failure_strategy_and_worker_group() {
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: o\nname: w\npriority: low\ntasks:\n  - { name: free, type: shell, script: 'true' }\n  - { name: pinned, type: shell, script: 'true', worker_group: default }\n")
        .await;
    let base = format!(
        "http://{}/api/v1/projects/o/workflows/w/runs",
        cluster.api()
    );
    let http = reqwest::Client::new();
    let token = token(&cluster).await;
    let post = |body: serde_json::Value| http.post(&base).bearer_auth(&token).json(&body).send();

    let bad = post(serde_json::json!({ "priority": "urgent" }))
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let message = bad.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.starts_with("priority:"), "{message}");

    let started: serde_json::Value = post(serde_json::json!({
        "priority": "high", "failure_strategy": "end", "worker_group": "nowhere"
    }))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = started["instance_ids"][0].as_i64().unwrap();
    let client = cluster.store.client().await.unwrap();
    // No worker serves `nowhere`: `free` waits in its queue, `pinned` runs on `default`.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rows = loop {
        let rows = client
            .query(
                "select t.name, t.worker_group, t.state, wi.failure_strategy, wi.priority \
                 from pgdag.task_instance t join pgdag.workflow_instance wi on wi.id = t.workflow_instance_id \
                 where wi.id = $1 order by t.name",
                &[&id],
            )
            .await
            .unwrap();
        if rows.len() == 2 && rows[1].get::<_, String>("state") == "succeeded" {
            break rows;
        }
        assert!(std::time::Instant::now() < deadline, "pinned did not run");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(rows[0].get::<_, String>("worker_group"), "nowhere");
    assert_eq!(rows[0].get::<_, String>("state"), "queued");
    assert_eq!(rows[1].get::<_, String>("worker_group"), "default");
    assert_eq!(rows[0].get::<_, String>("failure_strategy"), "end");
    let detail = pgdag::store::instances::get(&client, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.priority, "high");

    // A backfill's dates carry the same options.
    let started: serde_json::Value = post(serde_json::json!({
        "priority": "highest",
        "backfill": { "dates": ["2026-01-01"] }
    }))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = started["instance_ids"][0].as_i64().unwrap();
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.priority, "highest");
}

/// Issue 14: a writer of one project cannot reach into another through `sub_process`
/// (needs write there) or `dependent` (needs read), at apply nor at run time, and the
/// refusal does not tell whether the other project's workflow exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_into_other_projects_need_membership_there_at_apply_and_at_run() {
    use pgdag::store::members::{self, Access};
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            "project: a\nname: home\ntasks:\n  - { name: t, type: empty }\n---\nproject: b\nname: payroll\ntasks:\n  - { name: pay, type: shell, script: 'echo paid' }\n---\nproject: c\nname: load\ntasks:\n  - { name: l, type: empty }\n",
        )
        .await;
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "mallory", None, false)
        .await
        .unwrap();
    members::set(&client, "a", "mallory", Access::Write)
        .await
        .unwrap();
    members::set(&client, "c", "mallory", Access::Read)
        .await
        .unwrap();
    let token = pgdag::store::users::create_token(&client, "mallory", None, None)
        .await
        .unwrap()
        .token;
    let base = format!("http://{}/api/v1", cluster.api());
    let http = reqwest::Client::new();
    let apply = |yaml: String| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let response = http
                .post(format!("{base}/projects/a/workflows"))
                .bearer_auth(&token)
                .header("content-type", "application/yaml")
                .body(yaml)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let sub = |target: &str| {
        format!(
            "project: a\nname: caller\ntasks:\n  - {{ name: steal, type: sub_process, workflow: {target} }}\n"
        )
    };
    // The same refusal whether B's workflow exists or not.
    let (status, exists) = apply(sub("b/payroll")).await;
    assert_eq!(status, 403, "{exists}");
    let message = exists["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("task steal") && message.contains("project b"),
        "{message}"
    );
    let (status, missing) = apply(sub("b/ghost")).await;
    assert_eq!(status, 403);
    assert_eq!(missing["error"]["message"], exists["error"]["message"]);
    let (status, nowhere) = apply(sub("zz/ghost")).await;
    assert_eq!(status, 403);
    assert_eq!(
        nowhere["error"]["message"].as_str().unwrap(),
        message.replace("project b", "project zz")
    );
    // Read access is not enough to run another project's workflow.
    let (status, _) = apply(sub("c/load")).await;
    assert_eq!(status, 403);

    // A dependent needs read: on c yes, on b no.
    let dependent = |target: &str| {
        format!(
            "project: a\nname: waiter\ntasks:\n  - name: wait\n    type: dependent\n    all: [{{ workflow: {target}, window: today }}]\n"
        )
    };
    let (status, body) = apply(dependent("c/load")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = apply(dependent("b/payroll")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("task wait"),
        "{body}"
    );

    // With write on b the reference is accepted; once the membership is gone, starting a
    // run of it is refused.
    members::set(&client, "b", "mallory", Access::Write)
        .await
        .unwrap();
    let (status, body) = apply(sub("b/payroll")).await;
    assert_eq!(status, 201, "{body}");
    let run = || {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            http.post(format!("{base}/projects/a/workflows/caller/runs"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
        }
    };
    let started = run().await;
    assert_eq!(started.status(), 201);
    let started: serde_json::Value = started.json().await.unwrap();
    let instance = started["instance_ids"][0].as_i64().unwrap();
    let detail = cluster.wait_final(instance).await;
    let steal = task(&detail, "steal").id;
    members::remove(&client, "b", "mallory").await.unwrap();
    // Running the finished instance again goes through the same check: rerun, start-failed,
    // and a retry of the task.
    for path in [
        format!("{base}/instances/{instance}/rerun"),
        format!("{base}/instances/{instance}/start-failed"),
        format!("{base}/task-instances/{steal}/retry"),
    ] {
        let refused = http.post(&path).bearer_auth(&token).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{path}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("task steal of a/caller: its sub_process reference into project b"),
            "{path}: {body}"
        );
    }
    let refused = run().await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains(
            "task steal of a/caller: its sub_process reference into project b needs write access"
        ),
        "{body}"
    );
}

/// Issue 14: a datasource that reaches the scheduler's own database (by any name of its host)
/// is refused at apply; only an admin may allow it explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datasource_on_the_schedulers_own_database_needs_an_admin() {
    use pgdag::store::members::{self, Access};
    let cluster = TestCluster::start().await;
    cluster
        .apply("project: p\nname: w\ntasks:\n  - { name: t, type: empty }\n")
        .await;
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "writer", None, false)
        .await
        .unwrap();
    members::set(&client, "p", "writer", Access::Write)
        .await
        .unwrap();
    let writer = pgdag::store::users::create_token(&client, "writer", None, None)
        .await
        .unwrap()
        .token;
    let admin = cluster.api_token("root").await;
    let base = format!("http://{}/api/v1", cluster.api());
    let http = reqwest::Client::new();
    let post = |token: String, url: String, allow: bool| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let mut yaml =
                format!("kind: datasource\nproject: p\nname: meta\ntype: postgres\nurl: {url}\n");
            if allow {
                yaml.push_str("allow_scheduler_database: true\n");
            }
            let response = http
                .post(format!("{base}/projects/p/datasources"))
                .bearer_auth(&token)
                .body(yaml)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let name = &cluster.db.name;
    for url in [
        format!("postgres://postgres@127.0.0.1:5432/{name}"),
        format!("postgresql://someone@localhost/{name}"),
        format!("postgres://x@[::1]:5432/{name}?sslmode=disable"),
    ] {
        let (status, body) = post(writer.clone(), url.clone(), false).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("reaches the scheduler's own database"),
            "{body}"
        );
    }
    let own = format!("postgres://postgres@127.0.0.1:5432/{name}");
    // Another database on the same server is fine.
    let (status, body) = post(
        writer.clone(),
        "postgres://postgres@127.0.0.1:5432/warehouse".into(),
        false,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(writer.clone(), own.clone(), true).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(admin, own.clone(), true).await;
    assert_eq!(status, 200, "{body}");

    // `pgdag apply` refuses it too without the explicit allowance.
    let dir = temp_dir();
    let file = dir.path().join("ds.yaml");
    std::fs::write(
        &file,
        format!("kind: datasource\nproject: p\nname: meta2\ntype: postgres\nurl: {own}\n"),
    )
    .unwrap();
    let out = pgdag(&cluster.db)
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reaches the scheduler's own database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
