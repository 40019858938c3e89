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

/// An admin `root` and its API token named `ci` (the actor `root (token ci)`).
async fn named_token(cluster: &TestCluster) -> String {
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "root", None, true)
        .await
        .unwrap();
    pgdag::store::users::create_token(&client, "root", Some("ci"), None)
        .await
        .unwrap()
        .token
}

/// `(actor, action, project, target)` of every audit row, oldest first.
async fn trail(client: &tokio_postgres::Client) -> Vec<[Option<String>; 4]> {
    client
        .query(
            "select actor, action, project, target from pgdag.audit order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| [Some(r.get(0)), Some(r.get(1)), r.get(2), r.get(3)])
        .collect()
}

fn entry(actor: &str, action: &str, project: Option<&str>, target: &str) -> [Option<String>; 4] {
    [
        Some(actor.into()),
        Some(action.into()),
        project.map(Into::into),
        Some(target.into()),
    ]
}

fn assert_once(all: &[[Option<String>; 4]], expected: [Option<String>; 4]) {
    assert_eq!(
        all.iter().filter(|e| **e == expected).count(),
        1,
        "{expected:?} once in {all:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_and_token_commands_are_audited_as_the_os_user() {
    use std::io::Write;
    let db = TestDb::new().await;
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut command = pgdag(&db);
        command
            .args(args)
            .env("USER", "ops")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(
        &["user", "add", "carol", "--password-stdin"],
        Some("carol-password-1\n"),
    );
    run(
        &["token", "create", "--user", "carol", "--name", "ci"],
        None,
    );
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["token", "list", "--json"], None)).unwrap();
    let id = listed["tokens"][0]["id"].as_i64().unwrap().to_string();
    run(&["token", "revoke", &id], None);
    run(&["user", "passwd", "carol"], Some("carol-password-2\n"));
    // A refusal writes nothing.
    let out = pgdag(&db)
        .args(["token", "revoke", &id])
        .env("USER", "ops")
        .output()
        .unwrap();
    assert!(!out.status.success());

    let client = db.store().client().await.unwrap();
    let all = trail(&client).await;
    for action in ["user.add", "token.create", "token.revoke", "user.passwd"] {
        assert_once(&all, entry("cli:ops", action, None, "carol"));
    }
    assert_eq!(all.len(), 4, "{all:?}");
    let details: Vec<String> = client
        .query("select detail::text from pgdag.audit", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        details
            .iter()
            .all(|d| !d.contains("carol-password") && !d.contains("pgdag_")),
        "{details:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_changes_of_datasources_groups_tenants_schedules_and_workflows_are_audited() {
    let cluster = TestCluster::start().await;
    let base = format!("http://{}/api/v1", cluster.api());
    let http = reqwest::Client::new();
    let token = named_token(&cluster).await;
    cluster.apply(TWO).await;
    let send = |request: reqwest::RequestBuilder| {
        let token = token.clone();
        async move {
            let answer = request.bearer_auth(token).send().await.unwrap();
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            assert!((200..300).contains(&status), "{status} {text}");
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default()
        }
    };

    send(http.post(format!("{base}/projects/pa/datasources")).body(
        "kind: datasource\nproject: pa\nname: wh\ntype: postgres\nurl: postgres://etl@127.0.0.1:5432/warehouse\n",
    ))
    .await;
    send(http.delete(format!("{base}/projects/pa/datasources/wh"))).await;
    send(http.put(format!("{base}/alert-groups/ops")).json(
        &serde_json::json!({"channels": [{"type": "webhook", "url": "http://127.0.0.1:9/x"}]}),
    ))
    .await;
    send(
        http.put(format!("{base}/task-groups/small"))
            .json(&serde_json::json!({"size": 2})),
    )
    .await;
    send(
        http.put(format!("{base}/tenants/analysts"))
            .json(&serde_json::json!({"os_user": "ana", "projects": ["pa"]})),
    )
    .await;
    send(http.delete(format!("{base}/tenants/analysts"))).await;
    let schedule = send(http.post(format!("{base}/schedules")).json(
        &serde_json::json!({"project": "pa", "workflow": "w", "cron": "0 0 3 * * ?", "enabled": false}),
    ))
    .await;
    let schedule_id = schedule["id"].as_i64().unwrap();
    send(http.delete(format!("{base}/schedules/{schedule_id}"))).await;
    send(http.post(format!("{base}/projects/pa/workflows/w/offline"))).await;
    send(http.post(format!("{base}/projects/pa/workflows/w/online"))).await;
    send(http.delete(format!("{base}/projects/pa/workflows/w"))).await;
    send(http.delete(format!("{base}/projects/pb"))).await;
    // A refused delete writes nothing.
    let missing = http
        .delete(format!("{base}/projects/pa/datasources/wh"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let client = cluster.store.client().await.unwrap();
    let all = trail(&client).await;
    let by = "root (token ci)";
    for expected in [
        entry(by, "datasource.apply", Some("pa"), "wh"),
        entry(by, "datasource.delete", Some("pa"), "wh"),
        entry(by, "alert_group.apply", None, "ops"),
        entry(by, "task_group.apply", None, "small"),
        entry(by, "tenant.apply", None, "analysts"),
        entry(by, "tenant.delete", None, "analysts"),
        entry(by, "schedule.add", Some("pa"), "w"),
        entry(
            by,
            "schedule.delete",
            Some("pa"),
            &format!("schedule {schedule_id}"),
        ),
        entry(by, "workflow.offline", Some("pa"), "w"),
        entry(by, "workflow.online", Some("pa"), "w"),
        entry(by, "workflow.delete", Some("pa"), "w"),
        entry(by, "project.delete", Some("pb"), "pb"),
    ] {
        assert_once(&all, expected);
    }
    let offline: serde_json::Value = client
        .query_one(
            "select detail from pgdag.audit where action = 'workflow.offline'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(offline["version"], 2);
    let project: serde_json::Value = client
        .query_one(
            "select detail from pgdag.audit where action = 'project.delete'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(project["workflows"], serde_json::json!(["w"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_apply_of_a_tenant_and_cli_deletes_are_audited_as_the_os_user() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.yaml");
    std::fs::write(
        &file,
        format!("kind: tenant\nname: team\nos_user: ana\nprojects: [pa, pb]\n---\n{TWO}"),
    )
    .unwrap();
    for args in [
        vec!["apply", "-f", file.to_str().unwrap()],
        vec!["workflow", "offline", "pa/w"],
        vec!["workflow", "delete", "pa/w"],
        vec!["project", "delete", "pb"],
    ] {
        let out = pgdag(&db).args(&args).env("USER", "ops").output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let client = db.store().client().await.unwrap();
    let all = trail(&client).await;
    for expected in [
        entry("cli:ops", "tenant.apply", None, "team"),
        entry("cli:ops", "workflow.apply", Some("pa"), "w"),
        entry("cli:ops", "workflow.offline", Some("pa"), "w"),
        entry("cli:ops", "workflow.delete", Some("pa"), "w"),
        entry("cli:ops", "project.delete", Some("pb"), "pb"),
    ] {
        assert_once(&all, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_versions_and_instances_say_who_created_them() {
    let cluster = TestCluster::start().await;
    let base = format!("http://{}/api/v1", cluster.api());
    let http = reqwest::Client::new();
    let token = named_token(&cluster).await;
    cluster.apply(TWO).await;
    let answer = http
        .post(format!("{base}/projects/pa/workflows"))
        .bearer_auth(&token)
        .body("project: pa\nname: w\ntasks:\n  - name: a\n    type: shell\n    script: echo two\n")
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let get = |url: String| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let answer = http.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(answer.status(), 200);
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let versions = get(format!("{base}/projects/pa/workflows/w/versions")).await;
    let by: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["created_by"].as_str().unwrap())
        .collect();
    // The harness applies as `cli:test`; the second version came through REST.
    assert_eq!(by.len(), 2, "{versions}");
    assert_eq!(by, ["cli:test", "root (token ci)"], "{versions}");

    let run: serde_json::Value = http
        .post(format!("{base}/projects/pa/workflows/w/runs"))
        .bearer_auth(&token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = run["instance_ids"][0].as_i64().unwrap();
    // Asked for and not yet taken, then carried out: the same author either way.
    let pending = get(format!("{base}/instances/{id}")).await;
    assert_eq!(pending["created_by"], "root (token ci)", "{pending}");
    cluster.wait_final(id).await;
    let done = get(format!("{base}/instances/{id}")).await;
    assert_eq!(done["created_by"], "root (token ci)", "{done}");
    let client = cluster.store.client().await.unwrap();
    let sql_run: i64 = client
        .query_one("select pgdag.start_workflow('pb', 'w')", &[])
        .await
        .unwrap()
        .get(0);
    cluster.wait_final(sql_run).await;
    let listed = get(format!("{base}/instances?project=pb")).await;
    assert_eq!(
        listed["instances"][0]["created_by"], "sql:postgres",
        "{listed}"
    );
}
