//! Project variables, masked secrets and webhooks (issue 20) through the CLI, REST and SQL.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::harness::*;

/// The real binary with the api, master and worker roles and a secret key; its base URL.
pub(crate) fn start_server(db: &TestDb, env: &[(&str, &str)]) -> (ChildGuard, String) {
    let mut command = pgdag(db);
    command
        .args(["server", "--roles", "api,master,worker"])
        .env("PGDAG_SECRET_KEY", SECRET_KEY);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = spawn(command);
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("pgdag api listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server says where it listens");
    (child, base)
}

/// `pgdag apply -f` of this YAML; panics with the output unless it exits 0.
fn cli_apply(db: &TestDb, yaml: &str) -> String {
    let dir = temp_dir();
    let file = dir.path().join("flow.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = pgdag(db)
        .args(["apply", "-f", file.to_str().unwrap()])
        .env("PGDAG_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "apply failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const STORED: &str = "tok-3141592653-stored";
const FROM_ENV: &str = "vendor-2718281828-env";

fn flows() -> String {
    format!(
        r#"kind: variables
project: p
values:
  bucket: s3://data/in
  region: from-project
---
kind: secret
project: p
name: api_key
value: {STORED}
---
kind: secret
project: p
name: vendor
value_env: VENDOR_TOKEN
---
project: p
name: w
params:
  var.region: from-workflow
  inject: none
tasks:
  - name: use
    type: shell
    env:
      API_KEY: "${{secret.vendor}}"
    script: |
      echo "bucket=${{var.bucket}} region=${{var.region}}"
      echo "key=${{secret.api_key}} twice ${{secret.api_key}}${{secret.api_key}}"
      echo "env=$API_KEY"
      echo "inj=${{inject}}"
      echo '${{setValue(leak=${{secret.api_key}})}}'
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_and_masked_secrets_reach_a_shell_task_and_nothing_else() {
    use pgdag::store::members::{self, Access};
    let db = TestDb::new().await;
    let out = cli_apply(&db, &flows());
    assert!(out.contains("variables of project p: 2 applied"), "{out}");
    assert!(out.contains("secret p/api_key: applied"), "{out}");
    let (_server, base) = start_server(
        &db,
        &[
            ("VENDOR_TOKEN", FROM_ENV),
            ("PGDAG_TASK_ENV_PASSTHROUGH", "VENDOR_TOKEN"),
        ],
    );
    let store = db.store();
    // A start param that names a secret stays text: only the definition may use secrets.
    let id = run(
        &store,
        "p/w",
        serde_json::json!({ "inject": "${secret.api_key}" }),
    )
    .await;
    let detail = wait_final(&store, id, Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded", "{detail:?}");
    let log = log_text(&store, task(&detail, "use").id).await;
    assert!(
        log.contains("bucket=s3://data/in region=from-workflow"),
        "{log}"
    );
    assert!(log.contains("key=*** twice ******"), "{log}");
    assert!(log.contains("env=***"), "{log}");
    assert!(log.contains("inj=${secret.api_key}"), "{log}");
    assert!(!log.contains(STORED) && !log.contains(FROM_ENV), "{log}");

    // Nothing in the database holds a value in clear: payload, out params, the secret row.
    let client = store.client().await.unwrap();
    let row = client
        .query_one(
            "select (select string_agg(coalesce(payload::text, '') || out_params::text, ' ') from pgdag.task_instance) as t,
                    (select string_agg(encode(value_secret, 'escape'), ' ') from pgdag.project_secret) as s",
            &[],
        )
        .await
        .unwrap();
    let (tasks, secrets): (String, String) = (row.get(0), row.get(1));
    assert!(tasks.contains("***"), "out param masked: {tasks}");
    for value in [STORED, FROM_ENV] {
        assert!(!tasks.contains(value), "{tasks}");
        assert!(!secrets.contains(value));
    }

    // REST: an admin and a reader see secret names, never values; a reader cannot set one.
    pgdag::store::users::add(&client, "root", None, true)
        .await
        .unwrap();
    pgdag::store::users::add(&client, "ro", None, false)
        .await
        .unwrap();
    members::set(&client, "p", "ro", Access::Read)
        .await
        .unwrap();
    let admin = pgdag::store::users::create_token(&client, "root", None, None)
        .await
        .unwrap()
        .token;
    let reader = pgdag::store::users::create_token(&client, "ro", None, None)
        .await
        .unwrap()
        .token;
    let http = reqwest::Client::new();
    let api = format!("{base}/api/v1/projects/p");
    for token in [&admin, &reader] {
        let secrets = http
            .get(format!("{api}/secrets"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(secrets.status(), 200);
        let text = secrets.text().await.unwrap();
        assert!(
            text.contains("api_key") && text.contains("VENDOR_TOKEN"),
            "{text}"
        );
        assert!(!text.contains(STORED), "{text}");
        let variables: serde_json::Value = http
            .get(format!("{api}/variables"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(variables["values"]["bucket"], "s3://data/in");
        let log = http
            .get(format!(
                "{base}/api/v1/task-instances/{}/log",
                task(&detail, "use").id
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(log.contains("key=***") && !log.contains(STORED), "{log}");
    }
    let refused = http
        .put(format!("{api}/secrets/other"))
        .bearer_auth(&reader)
        .json(&serde_json::json!({ "value": "x-y-z" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let refused = http
        .put(format!("{api}/variables"))
        .bearer_auth(&reader)
        .json(&serde_json::json!({ "values": { "a": "b" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // A writer sets a secret and the variables through REST; the answer holds no value.
    let put = http
        .put(format!("{api}/secrets/other"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "value": "other-secret-value" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert!(!put.text().await.unwrap().contains("other-secret-value"));
    let put = http
        .put(format!("{api}/variables"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "values": { "bucket": "s3://data/v2" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let bad = http
        .put(format!("{api}/variables"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "values": { "bad name": "x" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    // The export holds the variables and the value_env secret, never a stored value.
    let out = pgdag(&db)
        .args(["export", "--project", "p"])
        .output()
        .unwrap();
    let exported = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{exported}");
    assert!(exported.contains("kind: variables"), "{exported}");
    assert!(exported.contains("s3://data/v2"), "{exported}");
    assert!(exported.contains("value_env: VENDOR_TOKEN"), "{exported}");
    for value in [STORED, "other-secret-value"] {
        assert!(!exported.contains(value), "{exported}");
    }
    let again = pgdag::apply::check_documents("export.yaml", &exported).unwrap();
    assert_eq!(again.variables[0].values["bucket"], "s3://data/v2");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_starts_a_run_with_its_body_as_params_until_revoked() {
    let (cluster, clock) = TestCluster::start_at(tomorrow()).await;
    cluster
        .apply(
            "project: p\nname: w\nparams: { who: nobody }\ntasks:\n  - { name: hello, type: shell, script: 'echo \"hello ${who}\"' }\n",
        )
        .await;
    let base = format!("http://{}", cluster.api());
    let out = pgdag(&cluster.db)
        .args(["hook", "create", "p/w"])
        .env("PGDAG_PUBLIC_URL", &base)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        url.starts_with(&format!("{base}/hooks/pgdag_hook_")),
        "{url}"
    );
    let http = reqwest::Client::new();

    let started = http
        .post(&url)
        .json(&serde_json::json!({ "who": "vendor" }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let body: serde_json::Value = started.json().await.unwrap();
    let id = body["instance_id"].as_i64().unwrap();
    let hook_id = body["hook_id"].as_i64().unwrap();
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded");
    let log = log_text(&cluster.store, task(&detail, "hello").id).await;
    assert!(log.contains("hello vendor"), "{log}");
    let client = cluster.store.client().await.unwrap();
    // The command row is gone once a master took it; the audit trail keeps the actor.
    let actor = format!("hook:{hook_id}");
    let audited: i64 = client
        .query_one(
            "select count(*) from pgdag.audit where action = 'hook.start' and actor = $1 and (detail->>'instance_id')::bigint = $2",
            &[&actor, &id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);

    // A key the workflow does not declare is refused.
    let unknown = http
        .post(&url)
        .json(&serde_json::json!({ "whom": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);

    // The bucket empties (ten at once), then refills with the clock.
    let mut limited = None;
    for _ in 0..10 {
        let r = http.post(&url).body("[]").send().await.unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 400);
    }
    let limited = limited.expect("the hook is rate-limited within ten calls");
    assert!(limited.headers().contains_key("retry-after"));
    cluster.advance(&clock, Duration::from_secs(7));
    let again = http.post(&url).body("[]").send().await.unwrap();
    assert_eq!(again.status(), 400, "a token came back after 7 s");

    // Listed (without its token), revoked: then it answers as an unknown token does.
    let out = pgdag(&cluster.db)
        .args(["hook", "list", "p/w"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains(&hook_id.to_string()) && !listed.contains("pgdag_hook_"),
        "{listed}"
    );
    let out = pgdag(&cluster.db)
        .args(["hook", "revoke", &hook_id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let revoked = http
        .post(&url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 404);
    let revoked = revoked.text().await.unwrap();
    let unknown = http
        .post(format!("{base}/hooks/pgdag_hook_0000"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.text().await.unwrap(), revoked);

    // REST for writers: create and revoke.
    let token = cluster.api_token("admin").await;
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/projects/p/workflows/w/hooks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = created["path"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{base}{path}"))
        .json(&serde_json::json!({ "who": "rest" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let listed = http
        .get(format!("{base}/api/v1/projects/p/hooks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("pgdag_hook_"), "{listed}");
    let r = http
        .delete(format!("{base}/api/v1/projects/p/hooks/{}", created["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}{path}"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
