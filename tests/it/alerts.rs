//! Alerts end to end: real SMTP conversations with an SMTP sink started by the test, a
//! webhook receiver, the REST and CLI faces, and — with the real binary — an alert process
//! killed between claim and send, and two alert processes sharing the outbox.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgdag::model::Duration as PgDuration;
use pgdag::server::Role;

use crate::fakes::smtp::Sink;
use crate::fakes::webhook::Hooks;
use crate::harness::*;

// ---- helpers ----

fn email_group(name: &str, sink: &Sink) -> String {
    format!(
        "kind: alert_group\nname: {name}\nchannels:\n  - {{ type: email, to: [ops@example.com, lead@example.com], smtp: {{ host: 127.0.0.1, port: {}, from: pgdag@example.com }} }}\n",
        sink.addr.port()
    )
}

fn fast_alerts(config: &mut pgdag::config::Config) {
    config.public_url = "http://pgdag.test:8080".into();
    // The webhooks of these tests are local servers, which only an allow-list lets through.
    config.http_allow = pgdag::tasks::net::HttpAllow::parse(LOCAL).unwrap();
    config.alert_retry_base = PgDuration::from_millis(100);
}

/// `PGDAG_HTTP_ALLOW` for the tests' local webhook servers.
const LOCAL: &str = "127.0.0.1";

async fn cluster() -> TestCluster {
    TestCluster::start_with(&Role::ALL, fast_alerts).await
}

/// The alert rows of an instance: (kind, state).
async fn alerts_of(store: &pgdag::store::Store, instance: i64) -> Vec<(String, String)> {
    let client = store.client().await.unwrap();
    client
        .query(
            "select kind, state from pgdag.alert where workflow_instance_id = $1 order by id",
            &[&instance],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Wait until alert `id` is in a final state (not pending); returns it.
async fn wait_alert_final(store: &pgdag::store::Store, id: i64, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let client = store.client().await.unwrap();
        let state: String = client
            .query_one("select state from pgdag.alert where id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        if state != "pending" {
            return state;
        }
        drop(client);
        assert!(
            Instant::now() < deadline,
            "alert {id} still pending after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (state, attempts, last_answer) of every delivery of an alert, by group and channel.
async fn deliveries(store: &pgdag::store::Store, alert: i64) -> Vec<(String, i32, String)> {
    let client = store.client().await.unwrap();
    client
        .query(
            "select state, attempts, coalesce(last_answer, '') from pgdag.alert_delivery
             where alert_id = $1 order by alert_group, channel_index",
            &[&alert],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn alert_id_of(store: &pgdag::store::Store, instance: i64, kind: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let client = store.client().await.unwrap();
        if let Some(row) = client
            .query_opt(
                "select id from pgdag.alert where workflow_instance_id = $1 and kind = $2",
                &[&instance, &kind],
            )
            .await
            .unwrap()
        {
            return row.get(0);
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} alert for instance {instance}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn output(mut command: std::process::Command) -> (i32, String, String) {
    let out = command.output().expect("run pgdag");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---- what sends, in-process roles ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_workflow_mails_once_with_subject_body_and_link_and_a_succeeding_one_mails_nothing()
 {
    let sink = Sink::start().await;
    let cluster = cluster().await;
    cluster
        .apply(&format!(
            "{}---
project: a
name: fine
notify: {{ when: failure, group: oncall }}
tasks:
  - {{ name: ok, type: shell, script: echo fine }}
---
project: a
name: fails
notify: {{ when: failure, group: oncall }}
tasks:
  - name: boom
    type: shell
    script: |
      for i in $(seq 1 30); do echo \"output line $i\"; done
      exit 3
  - {{ name: calm, type: shell, script: echo calm }}
",
            email_group("oncall", &sink)
        ))
        .await;
    let fine = cluster.run("a/fine", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(fine).await.state, "succeeded");
    let fails = cluster.run("a/fails", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(fails).await.state, "failed");

    let alert = alert_id_of(&cluster.store, fails, "workflow_end").await;
    assert_eq!(
        wait_alert_final(&cluster.store, alert, Duration::from_secs(30)).await,
        "sent"
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "exactly one mail: {mails:?}");
    assert!(
        alerts_of(&cluster.store, fine).await.is_empty(),
        "a succeeding run with notify when: failure writes no alert"
    );
    let mail = &mails[0];
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some(format!("[pgdag] a/fails #{fails} failed").as_str())
    );
    assert_eq!(mail.from, "<pgdag@example.com>");
    assert_eq!(
        mail.to,
        ["<ops@example.com>", "<lead@example.com>"],
        "{:?}",
        mail.to
    );
    let link = format!("http://pgdag.test:8080/instances/{fails}");
    for needle in [
        "Project:       a".to_string(),
        "Workflow:      fails (version 1)".to_string(),
        format!("Instance:      {fails}"),
        "State:         failed".to_string(),
        "Schedule time: none".to_string(),
        "Duration:".to_string(),
        "Failed tasks:  boom".to_string(),
        "exit code 3".to_string(),
        "  | output line 30".to_string(),
        "  | output line 13".to_string(),
        "  | [pgdag] exit code 3".to_string(),
        format!("Instance page: {link}"),
        "text/plain".to_string(),
        "text/html".to_string(),
        format!("<a href=\"{link}\">"),
    ] {
        assert!(
            mail.data.contains(&needle),
            "{needle:?} missing in:\n{}",
            mail.data
        );
    }
    assert!(
        !mail.data.contains("| output line 12\r") && !mail.data.contains("| output line 12\n"),
        "only the last 20 lines of the log"
    );
    let (state, attempts, answer) = deliveries(&cluster.store, alert).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("sent", 1));
    assert!(answer.starts_with("250"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_the_json_payload_with_a_slack_text_and_its_headers() {
    let hooks = Hooks::start().await;
    let cluster = cluster().await;
    cluster
        .apply(&format!(
            "kind: alert_group
name: chat
channels:
  - {{ type: webhook, url: \"{}\", headers: {{ X-Token: abc123 }} }}
---
project: w
name: hooked
notify: {{ when: always, group: chat }}
tasks:
  - {{ name: only, type: shell, script: echo hi }}
",
            hooks.url()
        ))
        .await;
    let id = cluster.run("w/hooked", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    let hook = hooks
        .wait_kind("workflow_end", Duration::from_secs(30))
        .await;
    let b = &hook.body;
    let subject = format!("[pgdag] w/hooked #{id} succeeded");
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{subject}\n")),
        "{b}"
    );
    assert_eq!(b["subject"], subject);
    assert_eq!(b["project"], "w");
    assert_eq!(b["workflow"], "hooked");
    assert_eq!(b["instance_id"], id);
    assert_eq!(b["state"], "succeeded");
    assert_eq!(b["group"], "chat");
    assert_eq!(b["url"], format!("http://pgdag.test:8080/instances/{id}"));
    assert!(b["duration_ms"].as_i64().unwrap() >= 0);
    assert_eq!(b["failed_tasks"], serde_json::json!([]));
    assert!(b["started_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(hook.headers["x-token"], "abc123");
    assert_eq!(hook.headers["content-type"], "application/json");
    assert_eq!(
        hook.headers["x-pgdag-delivery-id"],
        b["delivery_id"].to_string()
    );
    assert_eq!(hook.headers["x-pgdag-alert-id"], b["alert_id"].to_string());
    let alert = b["alert_id"].as_i64().unwrap();
    assert_eq!(
        wait_alert_final(&cluster.store, alert, Duration::from_secs(10)).await,
        "sent"
    );
    let (_, _, answer) = deliveries(&cluster.store, alert).await.remove(0);
    assert_eq!(answer, "HTTP 200 OK: thanks");
    assert_eq!(hooks.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_that_refuses_twice_gets_the_mail_on_the_third_attempt() {
    let sink = Sink::with(|s| s.refuse_first = 2).await;
    let cluster = cluster().await;
    cluster
        .apply(&format!(
            "{}---\nproject: r\nname: retried\nnotify: {{ when: failure, group: flaky }}\ntasks:\n  - {{ name: x, type: shell, script: exit 1 }}\n",
            email_group("flaky", &sink)
        ))
        .await;
    let id = cluster.run("r/retried", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "failed");
    let alert = alert_id_of(&cluster.store, id, "workflow_end").await;
    assert_eq!(
        wait_alert_final(&cluster.store, alert, Duration::from_secs(30)).await,
        "sent"
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(sink.mail_froms(), 3, "two refusals, then the mail");
    let (state, attempts, answer) = deliveries(&cluster.store, alert).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("sent", 3), "{answer}");
    assert!(answer.starts_with("250"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_end_the_delivery_with_the_servers_answer() {
    // 451 on every attempt: retried until the limit. 550: failed at once.
    let busy = Sink::with(|s| s.refuse_first = usize::MAX).await;
    let hostile = Sink::with(|s| {
        s.refuse_first = usize::MAX;
        s.refuse_code = 550;
    })
    .await;
    let cluster = TestCluster::start_with(&Role::ALL, |c| {
        fast_alerts(c);
        c.alert_max_attempts = 3;
    })
    .await;
    cluster
        .apply(&format!(
            "{}---\n{}",
            email_group("busy", &busy),
            email_group("hostile", &hostile)
        ))
        .await;
    let client = cluster.store.client().await.unwrap();
    let ids: Vec<i64> = client
        .query(
            "insert into pgdag.alert (kind, alert_group, payload)
             values ('custom', 'busy', '{\"subject\": \"one\"}'), ('custom', 'hostile', '{\"subject\": \"two\"}')
             returning id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in &ids {
        assert_eq!(
            wait_alert_final(&cluster.store, *id, Duration::from_secs(30)).await,
            "failed"
        );
    }
    let (state, attempts, answer) = deliveries(&cluster.store, ids[0]).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("failed", 3));
    assert!(
        answer.contains("451") && answer.contains("gave up after 3 attempts"),
        "{answer}"
    );
    let (state, attempts, answer) = deliveries(&cluster.store, ids[1]).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("failed", 1));
    assert!(answer.contains("550"), "{answer}");
    assert_eq!(busy.mail_froms(), 3);
    assert!(busy.mails().is_empty() && hostile.mails().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_result_is_mailed_as_an_html_and_a_text_table() {
    let sink = Sink::start().await;
    let cluster = cluster().await;
    cluster
        .apply(&format!(
            "{group}---
kind: datasource
project: s
name: pg
type: postgres
url: {url}
---
project: s
name: report
notify: {{ when: none }}
tasks:
  - name: totals
    type: sql
    datasource: pg
    sql: \"select * from (values ('eu', 12), ('us', 30), ('<b>x</b>', null)) as t(region, amount)\"
    send_result_to: reports
",
            group = email_group("reports", &sink),
            url = cluster.db.url
        ))
        .await;
    let id = cluster.run("s/report", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(
        detail.state,
        "succeeded",
        "{:?}",
        task(&detail, "totals").error
    );
    let mail = sink.wait_mails(1, Duration::from_secs(30)).await.remove(0);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some(format!("[pgdag] s/report #{id} task totals: query result (3 rows)").as_str())
    );
    assert!(
        mail.data.contains("<th>region</th><th>amount</th>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("<td>us</td><td>30</td>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data
            .contains("<td>&lt;b&gt;x&lt;/b&gt;</td><td>NULL</td>")
    );
    assert!(
        !mail.data.contains("<b>x</b></td>"),
        "user data is escaped in HTML"
    );
    // The text table: header, rule, rows.
    assert!(mail.data.contains("region"), "{}", mail.data);
    assert!(
        mail.data
            .lines()
            .any(|l| l.starts_with("us ") && l.trim_end().ends_with("30")),
        "{}",
        mail.data
    );
    let client = cluster.store.client().await.unwrap();
    let row = client
        .query_one(
            "select task_instance_id, alert_group from pgdag.alert where kind = 'sql_result'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Option<i64>>(0),
        Some(task(&detail, "totals").id)
    );
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("reports"));
    sink.wait_mails(1, Duration::from_secs(1)).await;
    assert_eq!(
        sink.mails().len(),
        1,
        "notify when: none sends no end-of-run mail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_a_dependent_that_gave_up_alert_the_workflows_group() {
    let hooks = Hooks::start().await;
    let cluster = cluster().await;
    cluster
        .apply(&format!(
            "kind: alert_group
name: team
channels:
  - {{ type: webhook, url: \"{}\" }}
---
project: t
name: never_runs
tasks:
  - {{ name: x, type: empty }}
---
project: t
name: slow
timeout: 1s
notify: {{ when: none, group: team }}
tasks:
  - name: sleepy
    type: shell
    script: sleep 2
    timeout: {{ after: 1s, strategy: warn }}
  - name: wait_upstream
    type: dependent
    all:
      - {{ workflow: never_runs, window: today }}
    check_interval: 1s
    wait_limit: 1s
",
            hooks.url()
        ))
        .await;
    let id = cluster.run("t/slow", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "failed");

    let task_timeout = hooks
        .wait_kind("task_timeout", Duration::from_secs(30))
        .await;
    assert_eq!(task_timeout.body["task"]["name"], "sleepy");
    assert_eq!(
        task_timeout.body["subject"],
        format!("[pgdag] t/slow #{id} task sleepy timed out")
    );
    assert!(
        task_timeout.body["message"]
            .as_str()
            .unwrap()
            .contains("ran longer than 1s")
    );
    let workflow_timeout = hooks
        .wait_kind("workflow_timeout", Duration::from_secs(30))
        .await;
    assert_eq!(workflow_timeout.body["instance_id"], id);
    assert_eq!(workflow_timeout.body["project"], "t");
    let dependent = hooks
        .wait_kind("dependent_failed", Duration::from_secs(30))
        .await;
    assert_eq!(
        dependent.body["subject"],
        format!("[pgdag] t/slow #{id} dependent task wait_upstream gave up")
    );
    assert!(
        dependent.body["message"]
            .as_str()
            .unwrap()
            .contains("gave up after waiting 1s")
    );
    assert!(
        dependent.body["details"]
            .as_str()
            .unwrap()
            .contains("t/never_runs"),
        "{}",
        dependent.body
    );
    let kinds: Vec<String> = alerts_of(&cluster.store, id)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        !kinds.contains(&"workflow_end".to_string()),
        "when: none sends no end-of-run alert: {kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_alert_goes_to_the_workflows_group_and_the_default_group() {
    let hooks = Hooks::start().await;
    let cluster = TestCluster::start_with(&Role::ALL, |c| {
        fast_alerts(c);
        c.alert_default_group = Some("ops".into());
    })
    .await;
    cluster
        .apply(&format!(
            "kind: alert_group\nname: team\nchannels:\n  - {{ type: webhook, url: \"{url}\", headers: {{ X-Group: team }} }}\n---\nkind: alert_group\nname: ops\nchannels:\n  - {{ type: webhook, url: \"{url}\", headers: {{ X-Group: ops }} }}\n---\nproject: f\nname: far\nnotify: {{ when: none, group: team }}\nworker_group: nowhere\ntasks:\n  - {{ name: away, type: shell, script: 'true' }}\n",
            url = hooks.url()
        ))
        .await;
    let id = cluster.run("f/far", serde_json::json!({})).await;
    // No worker serves `nowhere`: the attempt stays queued. Pretend a worker that has since
    // died took it: the leader declares that server dead and fails the attempt over.
    let client = cluster.store.client().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let task_id: i64 = loop {
        if let Some(row) = client
            .query_opt(
                "select id from pgdag.task_instance where workflow_instance_id = $1 and state = 'queued'",
                &[&id],
            )
            .await
            .unwrap()
        {
            break row.get(0);
        }
        assert!(Instant::now() < deadline, "the task was never queued");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    client
        .batch_execute(&format!(
            "with gone as (
                 insert into pgdag.server (name, roles, host, pid, worker_groups, version, heartbeat_at)
                 values ('gone:1', '{{worker}}', 'gone', 1, '{{nowhere}}', 'test', now() - interval '1 hour')
                 returning id
             ), taken as (
                 delete from pgdag.task_queue where task_instance_id = {task_id}
             )
             update pgdag.task_instance
             set state = 'running', server_id = (select id from gone), host = 'gone:1',
                 claim_token = gen_random_uuid(), dispatched_at = now(), started_at = now()
             where id = {task_id}"
        ))
        .await
        .unwrap();
    let first = hooks.wait_kind("failover", Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while hooks.received().len() < 2 {
        assert!(Instant::now() < deadline, "one webhook per group");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut groups: Vec<String> = hooks
        .received()
        .iter()
        .map(|h| h.headers["x-group"].clone())
        .collect();
    groups.sort();
    assert_eq!(groups, ["ops", "team"]);
    let b = &first.body;
    assert_eq!(b["server"], "gone:1");
    assert_eq!(
        b["subject"],
        "[pgdag] server gone:1 declared dead: 1 task attempt taken back"
    );
    assert_eq!(b["task_instances"][0]["id"], task_id);
    assert_eq!(b["task_instances"][0]["name"], "away");
    assert_eq!(b["task_instances"][0]["project"], "f");
    assert_eq!(b["task_instances"][0]["workflow"], "far");
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .contains(&format!("http://pgdag.test:8080/instances/{id}"))
    );
    // The stop ends the test's run (its attempt went back to the queue of `nowhere`).
    let mut stop = pgdag(&cluster.db);
    stop.args(["ctl", "stop", &id.to_string()]);
    assert_eq!(output(stop).0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_must_exist_at_apply_and_an_alert_to_a_missing_group_fails_with_the_reason() {
    let hooks = Hooks::start().await;
    let cluster = cluster().await;
    let dir = temp_dir();
    let file = dir.path().join("flow.yaml");
    std::fs::write(
        &file,
        "project: m\nname: lonely\ndescription: names a group that is not there\nnotify: { when: failure, group: nope }\ntasks:\n  - { name: a, type: sql, datasource: d, sql: select 1, send_result_to: nope2 }\n",
    )
    .unwrap();
    let mut apply = pgdag(&cluster.db);
    apply.args(["apply", "-f", file.to_str().unwrap()]);
    let (code, _, stderr) = output(apply);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "flow.yaml:4:1: workflow m/lonely: notify names alert group nope, which does not exist"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("flow.yaml:6:")
            && stderr.contains("send_result_to of task a names alert group nope2"),
        "{stderr}"
    );
    // The same through the API (no positions for a stored check, but the reason).
    let token = cluster.api_token("ann").await;
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("http://{}/api/v1/projects/m/workflows", cluster.api()))
        .bearer_auth(&token)
        .header("content-type", "application/yaml")
        .body("project: m\nname: lonely\nnotify: { when: always, group: nope }\ntasks:\n  - { name: a, type: empty }\n")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 422);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("notify names alert group nope, which does not exist"),
        "{body}"
    );
    // Defined in the same apply: fine.
    std::fs::write(
        &file,
        format!(
            "project: m\nname: lonely\nnotify: {{ when: failure, group: nope }}\ntasks:\n  - {{ name: a, type: empty }}\n---\nkind: alert_group\nname: nope\nchannels:\n  - {{ type: webhook, url: \"{}\" }}\n",
            hooks.url()
        ),
    )
    .unwrap();
    let mut apply = pgdag(&cluster.db);
    apply.args(["apply", "-f", file.to_str().unwrap()]);
    let (code, stdout, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("alert group nope: applied (1 channel)"),
        "{stdout}"
    );

    // A group gone by send time: the alert fails and says why.
    let client = cluster.store.client().await.unwrap();
    let id: i64 = client
        .query_one(
            "insert into pgdag.alert (kind, alert_group, payload) values ('custom', 'vanished', '{}') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        wait_alert_final(&cluster.store, id, Duration::from_secs(30)).await,
        "failed"
    );
    let error: Option<String> = client
        .query_one("select error from pgdag.alert where id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        error.as_deref(),
        Some("alert group vanished does not exist")
    );
    // No group at all: skipped, nothing sent.
    let id: i64 = client
        .query_one(
            "insert into pgdag.alert (kind, payload) values ('custom', '{}') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        wait_alert_final(&cluster.store, id, Duration::from_secs(30)).await,
        "skipped"
    );
    assert!(hooks.received().is_empty());
}

// ---- REST and CLI ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_lists_alerts_with_their_deliveries_and_groups_without_secrets() {
    let hooks = Hooks::start().await;
    let cluster = cluster().await;
    let base = format!("http://{}/api/v1", cluster.api());
    let token = cluster.api_token("rita").await;
    let http = reqwest::Client::new();

    let put = |name: &str, body: serde_json::Value| {
        http.put(format!("{base}/alert-groups/{name}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let created = put(
        "chat",
        serde_json::json!({"channels": [
            {"type": "webhook", "url": format!("{}?secret=s3", hooks.url()), "headers": {"Authorization": "Bearer zzz"}},
            {"type": "email", "to": ["a@example.com"], "smtp": {"host": "127.0.0.1", "port": 1, "from": "p@example.com", "user": "u", "password_env": "SMTP_PW"}}
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = created.json().await.unwrap();
    let shown = body.to_string();
    assert!(!shown.contains("zzz") && !shown.contains("s3"), "{shown}");
    assert_eq!(
        body["alert_group"]["channels"][0]["url"],
        format!("http://{}/…", hooks.addr)
    );
    assert_eq!(
        body["alert_group"]["channels"][1]["smtp"]["password_env"],
        "SMTP_PW"
    );
    let replaced = put(
        "chat",
        serde_json::json!({"kind": "alert_group", "name": "chat", "channels": [{"type": "webhook", "url": hooks.url()}]}),
    )
    .await
    .unwrap();
    assert_eq!(replaced.status(), 200);
    let bad = put(
        "chat",
        serde_json::json!({"channels": [{"type": "pigeon"}]}),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 422);
    let message = bad.json::<serde_json::Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("unknown channel type `pigeon`"),
        "{message}"
    );
    let other = put(
        "chat",
        serde_json::json!({"name": "other", "channels": [{"type": "webhook", "url": hooks.url()}]}),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 422);
    let bad_name = put("no%20spaces", serde_json::json!({})).await.unwrap();
    assert_eq!(bad_name.status(), 400);
    if std::env::var("PGDAG_SECRET_KEY").is_err() {
        let sealed = put(
            "mail",
            serde_json::json!({"channels": [{"type": "email", "to": ["a@example.com"], "smtp": {"host": "h", "port": 25, "from": "p@example.com", "user": "u", "password": "pw"}}]}),
        )
        .await
        .unwrap();
        assert_eq!(sealed.status(), 422, "a stored password needs the key");
    }
    let groups: serde_json::Value = http
        .get(format!("{base}/alert-groups"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups["alert_groups"][0]["name"], "chat");
    assert_eq!(
        groups["alert_groups"][0]["channels"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    cluster
        .apply("project: l\nname: listed\nnotify: { when: always, group: chat }\ntasks:\n  - { name: a, type: shell, script: exit 1 }\n")
        .await;
    let id = cluster.run("l/listed", serde_json::json!({})).await;
    cluster.wait_final(id).await;
    let alert = alert_id_of(&cluster.store, id, "workflow_end").await;
    wait_alert_final(&cluster.store, alert, Duration::from_secs(30)).await;
    let get = |query: &str| {
        http.get(format!("{base}/alerts{query}"))
            .bearer_auth(&token)
            .send()
    };
    let listed: serde_json::Value = get(&format!("?instance={id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a = &listed["alerts"][0];
    assert_eq!(a["id"], alert);
    assert_eq!(a["kind"], "workflow_end");
    assert_eq!(a["state"], "sent");
    assert_eq!(a["group"], "chat");
    assert_eq!(a["subject"], format!("[pgdag] l/listed #{id} failed"));
    let d = &a["deliveries"][0];
    assert_eq!(d["state"], "sent");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["type"], "webhook");
    assert_eq!(d["last_answer"], "HTTP 200 OK: thanks");
    assert_eq!(d["target"], format!("webhook http://{}/…", hooks.addr));
    assert!(d.get("spec").is_none());
    let none: serde_json::Value = get("?state=failed&kind=workflow_end")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["alerts"], serde_json::json!([]));
    let by_kind: serde_json::Value = get("?kind=workflow_end&limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_kind["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(get("?state=lost").await.unwrap().status(), 400);
    assert_eq!(get("?limit=0").await.unwrap().status(), 400);
    assert_eq!(get("?instance=x").await.unwrap().status(), 400);
    let anonymous = http.get(format!("{base}/alerts")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgdag_alert_test_sends_to_every_channel_and_says_which_failed() {
    let sink = Sink::start().await;
    let hooks = Hooks::start().await;
    let db = TestDb::new().await;
    let store = db.store();
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    apply(
        &store,
        &format!(
            "{}  - {{ type: webhook, url: \"{}\" }}\n---\nkind: alert_group\nname: broken\nchannels:\n  - {{ type: webhook, url: \"http://127.0.0.1:{closed}/x\" }}\n",
            email_group("both", &sink),
            hooks.url()
        ),
    )
    .await;
    let mut test = pgdag(&db);
    test.args(["alert", "test", "both"])
        .env("PGDAG_HTTP_ALLOW", LOCAL);
    let (code, stdout, stderr) = output(test);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("channel 1 (email to ops@example.com, lead@example.com via 127.0.0.1:")
            && stdout.contains("): sent (250"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "channel 2 (webhook http://{}/…): sent (HTTP 200 OK",
            hooks.addr
        )),
        "{stdout}"
    );
    let mail = sink.wait_mails(1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[pgdag] test message to alert group both")
    );
    assert_eq!(hooks.received()[0].body["kind"], "test");

    let mut test = pgdag(&db);
    test.args(["alert", "test", "broken"])
        .env("PGDAG_HTTP_ALLOW", LOCAL);
    let (code, stdout, _) = output(test);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("channel 1 (webhook http://127.0.0.1:") && stdout.contains("failed: "),
        "{stdout}"
    );

    // Issue 14: without the operator's allow-list a local webhook is refused, with the reason.
    let mut test = pgdag(&db);
    test.args(["alert", "test", "broken"])
        .env_remove("PGDAG_HTTP_ALLOW");
    let (code, stdout, _) = output(test);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("failed: refused: 127.0.0.1 is a loopback address"),
        "{stdout}"
    );

    let mut test = pgdag(&db);
    test.args(["alert", "test", "nobody"]);
    let (code, _, stderr) = output(test);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("alert group nobody does not exist"),
        "{stderr}"
    );

    // Every test is on record, as delivered or not.
    let client = store.client().await.unwrap();
    let rows: Vec<(String, String)> = client
        .query(
            "select alert_group, state from pgdag.alert where kind = 'test' order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        rows,
        [
            ("both".to_string(), "sent".to_string()),
            ("broken".to_string(), "failed".to_string()),
            ("broken".to_string(), "failed".to_string())
        ]
    );
}

// ---- the real binary: crashes and concurrency ----

/// A `pgdag server --roles alert` process.
fn alert_process(db: &TestDb, name: &str, lease: &str) -> ChildGuard {
    let mut server = pgdag(db);
    server
        .args(["server", "--roles", "alert"])
        .env("PGDAG_HTTP_ALLOW", LOCAL)
        .env("PGDAG_SERVER_NAME", name)
        .env("PGDAG_ALERT_LEASE", lease)
        .env("PGDAG_ALERT_RETRY_BASE", "100ms")
        .env("PGDAG_HEARTBEAT_INTERVAL", "500ms")
        .env("PGDAG_DEAD_AFTER", "4s");
    spawn(server)
}

async fn server_id(store: &pgdag::store::Store, name: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let client = store.client().await.unwrap();
        if let Some(row) = client
            .query_opt(
                "select id from pgdag.server where name = $1 and dead_at is null and stopped_at is null",
                &[&name],
            )
            .await
            .unwrap()
        {
            return row.get(0);
        }
        assert!(Instant::now() < deadline, "server {name} did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_alert_process_between_claim_and_send_does_not_lose_the_alert() {
    // The first SMTP connection is accepted and never greeted: the first process has
    // claimed the delivery and is inside the send when it is killed.
    let sink = Sink::with(|s| s.stall_first = 1).await;
    let db = TestDb::new().await;
    let store = db.store();
    apply(&store, &email_group("mail", &sink)).await;
    let mut first = alert_process(&db, "alert-a", "6s");
    let a = server_id(&store, "alert-a").await;
    let client = store.client().await.unwrap();
    let alert: i64 = client
        .query_one(
            "insert into pgdag.alert (kind, alert_group, payload) values ('custom', 'mail', '{\"subject\": \"survives\"}') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    sink.wait_connections(1, Duration::from_secs(30)).await;
    let row = client
        .query_one(
            "select state, claimed_by, attempts from pgdag.alert_delivery where alert_id = $1",
            &[&alert],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0).as_str(),
            row.get::<_, Option<i64>>(1),
            row.get::<_, i32>(2)
        ),
        ("sending", Some(a), 1),
        "claimed by the first process"
    );
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert!(sink.mails().is_empty());

    let _second = alert_process(&db, "alert-b", "6s");
    let b = server_id(&store, "alert-b").await;
    let mails = sink.wait_mails(1, Duration::from_secs(30)).await;
    assert_eq!(
        wait_alert_final(&store, alert, Duration::from_secs(10)).await,
        "sent"
    );
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("[pgdag] survives")
    );
    let row = client
        .query_one(
            "select state, claimed_by, attempts from pgdag.alert_delivery where alert_id = $1",
            &[&alert],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0).as_str(),
            row.get::<_, Option<i64>>(1),
            row.get::<_, i32>(2)
        ),
        ("sent", Some(b), 2),
        "sent by the second process after the first one's lease"
    );
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_alert_processes_do_not_double_send() {
    let sink = Sink::with(|s| s.data_delay = Duration::from_millis(15)).await;
    let db = TestDb::new().await;
    let store = db.store();
    apply(&store, &email_group("mail", &sink)).await;
    let _one = alert_process(&db, "alert-1", "20s");
    let _two = alert_process(&db, "alert-2", "20s");
    server_id(&store, "alert-1").await;
    server_id(&store, "alert-2").await;
    const ALERTS: usize = 60;
    let client = store.client().await.unwrap();
    for batch in 0..6 {
        client
            .execute(
                "insert into pgdag.alert (kind, alert_group, payload)
                 select 'custom', 'mail', jsonb_build_object('subject', 'mail ' || n)
                 from generate_series($1::int, $1::int + 9) n",
                &[&(batch * 10)],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    sink.wait_mails(ALERTS, Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = client
            .query_one(
                "select count(*) from pgdag.alert_delivery where state <> 'sent'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} deliveries not sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every delivery was claimed once (a claim counts an attempt) and that claim ended
    // `sent`: no second send can be on its way, so the sink's count is final.
    let rows = client
        .query(
            "select count(*), max(attempts), count(distinct claimed_by) from pgdag.alert_delivery",
            &[],
        )
        .await
        .unwrap();
    let (count, max_attempts): (i64, Option<i32>) = (rows[0].get(0), rows[0].get(1));
    assert_eq!((count, max_attempts), (ALERTS as i64, Some(1)));
    eprintln!(
        "{ALERTS} alerts sent by {} alert processes",
        rows[0].get::<_, i64>(2)
    );
    let mails = sink.mails();
    let mut subjects: HashMap<String, usize> = HashMap::new();
    for mail in &mails {
        *subjects
            .entry(mail.header("Subject").unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(mails.len(), ALERTS, "{subjects:?}");
    for n in 0..ALERTS {
        assert_eq!(
            subjects.get(&format!("[pgdag] mail {n}")),
            Some(&1),
            "mail {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_auth_takes_the_password_from_the_environment_or_the_stored_one() {
    let sink = Sink::start().await;
    let db = TestDb::new().await;
    let store = db.store();
    let groups = format!(
        "kind: alert_group\nname: env\nchannels:\n  - {{ type: email, to: [a@example.com], smtp: {{ host: 127.0.0.1, port: {port}, from: p@example.com, user: envuser, password_env: PGDAG_TEST_SMTP_PW }} }}\n---\nkind: alert_group\nname: stored\nchannels:\n  - {{ type: email, to: [b@example.com], smtp: {{ host: 127.0.0.1, port: {port}, from: p@example.com, user: keptuser, password: kept-secret-pw }} }}\n",
        port = sink.addr.port()
    );
    let dir = temp_dir();
    let file = dir.path().join("groups.yaml");
    std::fs::write(&file, &groups).unwrap();
    // Without the key, a stored password cannot be applied.
    let mut apply = pgdag(&db);
    apply
        .args(["apply", "-f", file.to_str().unwrap()])
        .env_remove("PGDAG_SECRET_KEY");
    let (code, _, stderr) = output(apply);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("alert group stored has an SMTP password: set PGDAG_SECRET_KEY"),
        "{stderr}"
    );
    let mut apply = pgdag(&db);
    apply
        .args(["apply", "-f", file.to_str().unwrap()])
        .env("PGDAG_SECRET_KEY", SECRET_KEY);
    let (code, _, stderr) = output(apply);
    assert_eq!(code, 0, "{stderr}");
    let client = store.client().await.unwrap();
    let stored: String = client
        .query_one(
            "select channels::text || array_to_string(secrets, ',') from pgdag.alert_group where name = 'stored'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!stored.contains("kept-secret-pw"), "{stored}");

    // An alert process without the key does not start.
    let mut keyless = pgdag(&db);
    keyless
        .args(["server", "--roles", "alert"])
        .env_remove("PGDAG_SECRET_KEY");
    let mut keyless = spawn(keyless);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = keyless.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "an alert process without the key kept running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(2));

    let mut server = pgdag(&db);
    server
        .args(["server", "--roles", "alert"])
        .env("PGDAG_SECRET_KEY", SECRET_KEY)
        .env("PGDAG_TEST_SMTP_PW", "from-the-env");
    let _server = spawn(server);
    client
        .execute(
            "insert into pgdag.alert (kind, alert_group, payload)
             values ('custom', 'env', '{\"subject\": \"env\"}'), ('custom', 'stored', '{\"subject\": \"stored\"}')",
            &[],
        )
        .await
        .unwrap();
    sink.wait_mails(2, Duration::from_secs(30)).await;
    let mut auths = sink.auths();
    auths.sort();
    assert_eq!(
        auths,
        ["\0envuser\0from-the-env", "\0keptuser\0kept-secret-pw"]
    );
}
