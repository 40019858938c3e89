//! The audit trail (REST, SQL, CLI) and Postgres roles for SQL clients (psql-like
//! connections as a `pgdag_client` role, `pgdag client grant/revoke`).

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::harness::*;

const TWO: &str = "project: pa\nname: w\ntasks:\n  - name: a\n    type: shell\n    script: echo a\n---\nproject: pb\nname: w\ntasks:\n  - name: a\n    type: shell\n    script: echo b\n";

async fn events(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    q: &str,
) -> Vec<serde_json::Value> {
    let answer = http
        .get(format!("{base}/api/v1/audit?{q}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    body["events"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_applies_switches_members_tokens_and_logins_are_audited_and_read_by_admins() {
    let cluster = TestCluster::start().await;
    let base = format!("http://{}", cluster.api());
    let http = reqwest::Client::new();
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "root", None, true)
        .await
        .unwrap();
    let token = pgdag::store::users::create_token(&client, "root", Some("ci"), None)
        .await
        .unwrap()
        .token;

    // Apply twice (two versions) and switch back, through REST.
    for script in ["echo one", "echo two"] {
        let yaml = format!(
            "project: pa\nname: w\ntasks:\n  - name: a\n    type: shell\n    script: {script}\n"
        );
        let answer = http
            .post(format!("{base}/api/v1/projects/pa/workflows"))
            .bearer_auth(&token)
            .body(yaml)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    let switched = http
        .post(format!(
            "{base}/api/v1/projects/pa/workflows/w/versions/1/switch"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 200);
    // A run through REST, a stop, and a run inserted through SQL.
    let run: serde_json::Value = http
        .post(format!("{base}/api/v1/projects/pa/workflows/w/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["instance_ids"][0].as_i64().unwrap();
    cluster.wait_final(id).await;
    let sql_run: i64 = client
        .query_one("select pgdag.start_workflow('pa', 'w')", &[])
        .await
        .unwrap()
        .get(0);
    cluster.wait_final(sql_run).await;
    // Memberships and tokens.
    pgdag::store::users::add(&client, "bob", Some("bob-password-1"), false)
        .await
        .unwrap();
    let member = http
        .put(format!("{base}/api/v1/projects/pa/members/bob"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"access": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), 200);
    let made: serde_json::Value = http
        .post(format!("{base}/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"user": "bob", "name": "nightly"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let all = events(&http, &base, &token, "").await;
    let actions: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    for expected in [
        ("root (token ci)", "workflow.apply"),
        ("root (token ci)", "workflow.switch"),
        ("root (token ci)", "command.start"),
        ("sql:postgres", "command.start"),
        ("root (token ci)", "member.set"),
        ("root (token ci)", "token.create"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
    // Newest first, the switch names its version, the REST run its instance.
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let switch = all
        .iter()
        .find(|e| e["action"] == "workflow.switch")
        .unwrap();
    assert_eq!(switch["detail"]["version"], 1);
    assert_eq!(switch["project"], "pa");
    assert!(all.iter().any(|e| e["action"] == "command.start"
        && e["detail"]["instance_id"] == id
        && e["actor"] == "root (token ci)"));
    // Instances and versions show who created them.
    let by: String = client
        .query_one(
            "select created_by from pgdag.workflow_instance where id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(by, "root (token ci)");
    let by: String = client
        .query_one(
            "select created_by from pgdag.workflow_instance where id = $1",
            &[&sql_run],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(by, "sql:postgres");
    let by: String = client
        .query_one(
            "select created_by from pgdag.workflow_definition_log where name = 'w' and version = 2",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(by, "root (token ci)");

    // Filters and paging.
    let sql_only = events(&http, &base, &token, "actor=sql:").await;
    assert!(!sql_only.is_empty() && sql_only.iter().all(|e| e["actor"] == "sql:postgres"));
    let commands = events(&http, &base, &token, "action=command&project=pa").await;
    assert!(commands.len() >= 2 && commands.iter().all(|e| e["action"] == "command.start"));
    let first = events(&http, &base, &token, "limit=2").await;
    assert_eq!(first.len(), 2);
    let next = events(
        &http,
        &base,
        &token,
        &format!("limit=2&before={}", first[1]["id"]),
    )
    .await;
    assert!(next[0]["id"].as_i64() < first[1]["id"].as_i64());
    let future = events(&http, &base, &token, "from=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());

    // Not for non-admins.
    let bob = made["token"].as_str().unwrap();
    let refused = http
        .get(format!("{base}/api/v1/audit"))
        .bearer_auth(bob)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Append-only: no update, no delete outside pruning.
    let e = client
        .execute("update pgdag.audit set actor = 'x'", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let e = client
        .execute("delete from pgdag.audit", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    // Pruning past retention deletes (here with the clock a year ahead).
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    pgdag::store::cluster::prune(&client, 30, Some(later))
        .await
        .unwrap();
    let left: i64 = client
        .query_one("select count(*) from pgdag.audit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

/// Drops the role when the test ends, pass or fail (roles are cluster-wide).
struct RoleGuard(String);

impl Drop for RoleGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (client, connection) =
                    tokio_postgres::connect(&admin_url(), NoTls).await.unwrap();
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("drop role if exists {name}"))
                    .await;
            });
        })
        .join();
    }
}

fn admin_url() -> String {
    std::env::var("PGDAG_TEST_ADMIN_URL").unwrap_or_else(|_| ADMIN_URL.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_role_starts_and_reads_only_its_projects() {
    let db = TestDb::new().await;
    let store = db.store();
    apply(&store, TWO).await;
    let owner = store.client().await.unwrap();
    let pa_run: i64 = owner
        .query_one("select pgdag.start_workflow('pa', 'w')", &[])
        .await
        .unwrap()
        .get(0);
    let pb_run: i64 = owner
        .query_one("select pgdag.start_workflow('pb', 'w')", &[])
        .await
        .unwrap()
        .get(0);
    let role = format!("pgdag_test_{}", uuid::Uuid::new_v4().simple());
    owner
        .batch_execute(&format!("create role {role} login"))
        .await
        .unwrap();
    let _guard = RoleGuard(role.clone());

    // Not a client yet: the CLI makes it one of project pa.
    let out = pgdag(&db)
        .args(["client", "grant", &role, "pa"])
        .env("USER", "ops")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pgdag(&db)
        .args(["client", "grant", &role, "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("project nope does not exist"));

    let mut config: tokio_postgres::Config = db.url.parse().unwrap();
    config.user(&role);
    let (mut client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);

    // Its project: start through the function and through a plain insert.
    let id: i64 = client
        .query_one("select pgdag.start_workflow('pa', 'w', '{\"x\": 1}')", &[])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "insert into pgdag.command (command_type, workflow_instance_id) values ('stop', $1)",
            &[&pa_run],
        )
        .await
        .unwrap();
    // Another project: a clear error, and nothing written (the transaction goes on clean).
    let tx = client.transaction().await.unwrap();
    let e = tx
        .query_one("select pgdag.start_workflow('pb', 'w')", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let message = e.as_db_error().unwrap().message().to_string();
    assert!(
        message.contains(&format!("role {role} may not act on project pb")),
        "{message}"
    );
    drop(tx);
    for sql in [
        "insert into pgdag.command (command_type, project, workflow) values ('start', 'pb', 'w')",
        "insert into pgdag.command (command_type, project, workflow) values ('start', 'nope', 'w')",
    ] {
        let e = client.execute(sql, &[]).await.unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}");
    }
    let e = client
        .execute(
            "insert into pgdag.command (command_type, workflow_instance_id) values ('stop', $1)",
            &[&pb_run],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    // A client cannot pass itself off as someone else.
    client
        .execute(
            "insert into pgdag.command (command_type, project, workflow, created_by) values ('start', 'pa', 'w', 'admin')",
            &[],
        )
        .await
        .unwrap();

    // Reads: its projects' rows in the views, no table.
    let projects: Vec<String> = client
        .query(
            "select distinct project from pgdag.workflow_instance_v",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(projects, vec!["pa".to_string()]);
    let seen: Vec<i64> = client
        .query("select id from pgdag.workflow_instance_v", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(seen.contains(&id) && !seen.contains(&pb_run), "{seen:?}");
    client
        .query("select * from pgdag.task_instance_v", &[])
        .await
        .unwrap();
    for table in [
        "pgdag.workflow_instance",
        "pgdag.command",
        "pgdag.audit",
        "pgdag.app_user",
        "pgdag.client_project",
    ] {
        let e = client
            .query(&format!("select * from {table}"), &[])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{table}");
    }

    // What it did is in the audit trail under sql:<role>; the grant under cli:<os user>.
    let actors: Vec<(String, String, Option<String>)> = owner
        .query(
            "select actor, action, project from pgdag.audit order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        actors.contains(&("cli:ops".into(), "client.grant".into(), Some("pa".into()))),
        "{actors:?}"
    );
    let mine = actors
        .iter()
        .filter(|a| a.0 == format!("sql:{role}"))
        .count();
    assert_eq!(mine, 3, "{actors:?}");
    assert!(actors.iter().all(|a| a.0 != "admin"));

    // Revoked: nothing visible, nothing startable.
    let out = pgdag(&db)
        .args(["client", "revoke", &role, "pa"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(client);
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let e = client
        .query("select * from pgdag.workflow_instance_v", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    drop(client);
}
