//! Task types through real workflows on the real binary: a `pgdag server` process runs the
//! master and worker roles, definitions go in with `pgdag apply`, instances are read from
//! the database.

use std::time::Duration;

use crate::harness::*;

/// A `pgdag server --roles master,worker` process on a test database.
struct Server {
    // Fields drop in order: the process goes before its database.
    _child: ChildGuard,
    store: pgdag::store::Store,
    db: TestDb,
}

impl Server {
    async fn start(env: &[(&str, &str)]) -> Server {
        let db = TestDb::new().await;
        let store = db.store();
        let child = Self::spawn_on(&db, env);
        Server {
            _child: child,
            store,
            db,
        }
    }

    fn spawn_on(db: &TestDb, env: &[(&str, &str)]) -> ChildGuard {
        let mut server = pgdag(db);
        server
            .args(["server", "--roles", "master,worker"])
            .env("PGDAG_SECRET_KEY", SECRET_KEY);
        for (k, v) in env {
            server.env(k, v);
        }
        spawn(server)
    }

    /// `pgdag apply -f` of this YAML; panics with the output unless it exits 0.
    fn apply(&self, yaml: &str) -> String {
        let dir = temp_dir();
        let file = dir.path().join("flow.yaml");
        std::fs::write(&file, yaml).unwrap();
        let mut apply = pgdag(&self.db);
        apply
            .args(["apply", "-f", file.to_str().unwrap()])
            .env("PGDAG_SECRET_KEY", SECRET_KEY);
        let out = apply.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "apply failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    async fn run(&self, target: &str, params: serde_json::Value) -> i64 {
        run(&self.store, target, params).await
    }

    async fn finished(&self, id: i64) -> pgdag::store::instances::InstanceDetail {
        wait_final(&self.store, id, Duration::from_secs(60)).await
    }

    async fn log(&self, detail: &pgdag::store::instances::InstanceDetail, name: &str) -> String {
        log_text(&self.store, task(detail, name).id).await
    }
}

// ---- sql and procedure ----

/// A datasource on the test's own Postgres database (trust auth ignores the password, but it
/// is stored encrypted all the same). That is the scheduler's own database, which `apply`
/// refuses unless the document allows it explicitly.
fn postgres_datasource(db: &TestDb) -> String {
    format!(
        "kind: datasource\nproject: s\nname: pg\ntype: postgres\nurl: {}\npassword: not-needed\nallow_scheduler_database: true\n",
        db.url
    )
}

/// A statement without `pre` or `post` is its own transaction (autocommit, no `BEGIN`
/// around it), so one that refuses a transaction block runs; with `pre`, the block stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_sql_statement_runs_outside_a_transaction_block() {
    let server = Server::start(&[]).await;
    let yaml = format!(
        r#"{ds}---
project: s
name: upkeep
tasks:
  - name: alone
    type: sql
    datasource: pg
    kind: statement
    sql: "vacuum pgdag.command"
  - name: with_pre
    type: sql
    datasource: pg
    kind: statement
    pre: ["select 1"]
    sql: "vacuum pgdag.command"
"#,
        ds = postgres_datasource(&server.db)
    );
    server.apply(&yaml);
    let id = server.run("s/upkeep", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(task(&detail, "alone").state, "succeeded");
    let with_pre = task(&detail, "with_pre");
    assert_eq!(with_pre.state, "failed");
    let log = log_text(&server.store, with_pre.id).await;
    assert!(
        log.contains("cannot run inside a transaction block"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_postgres_queries_binds_sets_out_params_and_fails_with_the_server_message() {
    let server = Server::start(&[]).await;
    let yaml = format!(
        r#"{ds}---
project: s
name: sales
params: {{ region: eu }}
tasks:
  - name: setup
    type: sql
    datasource: pg
    kind: statement
    pre: ["create table if not exists sale (region text, amount int)"]
    sql: "insert into sale values ('eu', 5), ('eu', 7), ('us', 100)"
  - name: total
    type: sql
    datasource: pg
    sql: "select count(*) as n, sum(amount) as total from sale where region = $1"
    bind: ["${{region}}"]
    out: [n, total]
    depends_on: [setup]
  - name: report
    type: shell
    script: echo "rows=${{n}} total=${{total}}"
    depends_on: [total]
  - name: broken
    type: sql
    datasource: pg
    sql: "select * from no_such_table"
    depends_on: [setup]
"#,
        ds = postgres_datasource(&server.db)
    );
    let out = server.apply(&yaml);
    assert!(out.contains("datasource s/pg: applied"), "{out}");
    // The stored password is encrypted, never in clear.
    let client = server.store.client().await.unwrap();
    let secret: Vec<u8> = client
        .query_one(
            "select password_secret from pgdag.datasource where name = 'pg'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!secret.windows(10).any(|w| w == b"not-needed"));

    let id = server.run("s/sales", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "failed", "broken fails the run");
    let setup = task(&detail, "setup");
    assert_eq!(setup.state, "succeeded");
    assert_eq!(setup.result.as_ref().unwrap()["rows_affected"], 3);
    let total = task(&detail, "total");
    assert_eq!(total.state, "succeeded");
    assert_eq!(total.out_params["n"], "2");
    assert_eq!(total.out_params["total"], "12");
    assert_eq!(
        total.result.as_ref().unwrap()["rows"],
        serde_json::json!([["2", "12"]])
    );
    let log = server.log(&detail, "total").await;
    assert!(log.contains("n | total") && log.contains("2 | 12"), "{log}");
    assert!(
        server
            .log(&detail, "report")
            .await
            .contains("rows=2 total=12")
    );
    let broken = task(&detail, "broken");
    assert_eq!(broken.state, "failed");
    let error = broken.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("relation \"no_such_table\" does not exist"),
        "{error}"
    );
}

/// 200 `sql` tasks on a worker with one process slot and a datasource pool of 3: they run
/// several at a time (more than the process slots), on at most 3 server connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_tasks_share_a_bounded_pool_beside_the_process_slots() {
    let server = Server::start(&[
        ("PGDAG_MAX_TASKS", "1"),
        ("PGDAG_DATASOURCE_POOL_SIZE", "3"),
    ])
    .await;
    let mut yaml = format!(
        "{}---\nproject: s\nname: many\ntasks:\n",
        postgres_datasource(&server.db)
    );
    for i in 0..200 {
        // Each statement sees how many of the datasource's connections are busy with one.
        yaml.push_str(&format!(
            "  - {{ name: q{i}, type: sql, datasource: pg, out: [pid, busy], sql: \"select pg_backend_pid() as pid, (select count(*) from pg_stat_activity where application_name like 'pgdag:%:s/pg' and state = 'active') as busy, pg_sleep(0.02)::text as slept\" }}\n"
        ));
    }
    server.apply(&yaml);
    let id = server.run("s/many", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "succeeded");
    let tasks = detail.tasks.as_ref().unwrap();
    let pids: std::collections::HashSet<&str> = tasks
        .iter()
        .map(|t| t.out_params["pid"].as_str().unwrap())
        .collect();
    assert!(
        !pids.is_empty() && pids.len() <= 3,
        "200 tasks opened {} connections, more than the pool of 3",
        pids.len()
    );
    let busy: i64 = tasks
        .iter()
        .map(|t| {
            t.out_params["busy"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .max()
        .unwrap();
    assert!(
        (2..=3).contains(&busy),
        "at most {busy} statements ran at once with 1 process slot and a pool of 3"
    );
}

/// `sslmode=require` connects over TLS (Debian's Postgres serves its snakeoil certificate);
/// `verify-full` refuses that certificate, and the task says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_datasources_speak_tls_as_their_sslmode_says() {
    let server = Server::start(&[]).await;
    let yaml = format!(
        r#"kind: datasource
project: s
name: tls
type: postgres
url: {url}?sslmode=require
allow_scheduler_database: true
---
kind: datasource
project: s
name: strict
type: postgres
url: {url}?sslmode=verify-full
allow_scheduler_database: true
---
project: s
name: tls
tasks:
  - name: over_tls
    type: sql
    datasource: tls
    sql: "select ssl::text as ssl from pg_stat_ssl where pid = pg_backend_pid()"
    out: [ssl]
  - name: verified
    type: sql
    datasource: strict
    sql: select 1
"#,
        url = server.db.url
    );
    server.apply(&yaml);
    let id = server.run("s/tls", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    let over_tls = task(&detail, "over_tls");
    assert_eq!(over_tls.state, "succeeded", "{:?}", over_tls.error);
    assert_eq!(over_tls.out_params["ssl"], "true");
    let verified = task(&detail, "verified");
    assert_eq!(verified.state, "failed");
    let error = verified.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("datasource strict: cannot connect")
            && error.contains("certificate")
            && error.contains("verify-full"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procedure_on_postgres_returns_its_out_param() {
    let server = Server::start(&[]).await;
    let client = server.store.client().await.unwrap();
    client
        .batch_execute(
            "create procedure public.add_tax(amount int, rate numeric, out total numeric)
             language plpgsql as $$ begin total := amount * (1 + rate); end $$",
        )
        .await
        .unwrap();
    let yaml = format!(
        "{}---\nproject: s\nname: proc\ntasks:\n  - name: tax\n    type: procedure\n    datasource: pg\n    call: public.add_tax\n    args: [\"100\", \"0.25\"]\n    out: [total]\n  - name: show\n    type: shell\n    script: echo \"total is ${{total}}\"\n    depends_on: [tax]\n",
        postgres_datasource(&server.db)
    );
    server.apply(&yaml);
    let id = server.run("s/proc", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);
    assert_eq!(task(&detail, "tax").out_params["total"], "125.00");
    assert!(
        server
            .log(&detail, "show")
            .await
            .contains("total is 125.00")
    );
}

/// A fresh MariaDB database on 127.0.0.1:3306 (root, no password), dropped afterwards.
struct MariaDb {
    name: String,
}

impl MariaDb {
    async fn new() -> MariaDb {
        use mysql_async::prelude::Queryable;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = mysql_async::Conn::from_url("mysql://root@127.0.0.1:3306/")
            .await
            .expect("MariaDB on 127.0.0.1:3306 (root, no password) is needed by this test");
        conn.query_drop(format!("create database {name}"))
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        MariaDb { name }
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:3306/{}", self.name)
    }

    async fn execute(&self, sql: &str) {
        use mysql_async::prelude::Queryable;
        let mut conn = mysql_async::Conn::from_url(self.url()).await.unwrap();
        conn.query_drop(sql).await.unwrap();
        conn.disconnect().await.unwrap();
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use mysql_async::prelude::Queryable;
                if let Ok(mut conn) =
                    mysql_async::Conn::from_url("mysql://root@127.0.0.1:3306/").await
                {
                    let _ = conn
                        .query_drop(format!("drop database if exists {name}"))
                        .await;
                    let _ = conn.disconnect().await;
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_and_procedure_on_mariadb() {
    let maria = MariaDb::new().await;
    maria
        .execute("create procedure double_it(in x int, out y int) begin set y = x * 2; end")
        .await;
    let server = Server::start(&[]).await;
    let yaml = format!(
        r#"kind: datasource
project: m
name: maria
type: mysql
url: {url}
---
project: m
name: flow
tasks:
  - name: fill
    type: sql
    datasource: maria
    kind: statement
    pre: ["create table item (id int primary key, label varchar(20))"]
    sql: "insert into item values (1, 'one'), (2, 'two'), (3, 'three')"
  - name: pick
    type: sql
    datasource: maria
    sql: "select id, label from item where id >= ? order by id"
    bind: ["2"]
    out: [label]
    out_rows: picked
    depends_on: [fill]
  - name: twice
    type: procedure
    datasource: maria
    call: double_it
    args: ["21"]
    out: [doubled]
    depends_on: [fill]
  - name: broken
    type: sql
    datasource: maria
    sql: "select * from missing_table"
    depends_on: [fill]
"#,
        url = maria.url()
    );
    server.apply(&yaml);
    let id = server.run("m/flow", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(
        task(&detail, "fill").result.as_ref().unwrap()["rows_affected"],
        3
    );
    let pick = task(&detail, "pick");
    assert_eq!(pick.state, "succeeded", "{:?}", pick.error);
    assert_eq!(pick.out_params["label"], r#"["two","three"]"#);
    assert_eq!(
        pick.out_params["picked"],
        r#"[{"id":"2","label":"two"},{"id":"3","label":"three"}]"#
    );
    assert_eq!(task(&detail, "twice").out_params["doubled"], "42");
    let broken = task(&detail, "broken");
    assert_eq!(broken.state, "failed");
    assert!(
        broken
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("missing_table"),
        "{:?}",
        broken.error
    );
}

// ---- http ----

/// A local HTTP server: `/ok` answers JSON, `/teapot` answers 418.
async fn http_server() -> std::net::SocketAddr {
    use warp::Filter;
    let ok = warp::path("ok").map(|| {
        warp::reply::json(
            &serde_json::json!({"data": {"id": 42, "tags": ["a", "b"]}, "status": "fine"}),
        )
    });
    let teapot = warp::path("teapot")
        .map(|| warp::reply::with_status("short and stout", warp::http::StatusCode::IM_A_TEAPOT));
    // `/to/<target>` redirects (302) to `http://<target>`.
    let to = warp::path!("to" / String).map(|target: String| {
        warp::http::Response::builder()
            .status(302)
            .header("location", format!("http://{}", target.replace('~', "/")))
            .body(String::new())
            .unwrap()
    });
    let routes = ok.or(teapot).or(to);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_checks_status_and_body_and_picks_out_params_by_json_path() {
    let addr = http_server().await;
    // The server is local: only the operator's allow-list lets tasks reach it.
    let server = Server::start(&[("PGDAG_HTTP_ALLOW", "127.0.0.1")]).await;
    let yaml = format!(
        r#"project: h
name: calls
tasks:
  - name: get
    type: http
    url: http://{addr}/ok
    expect_body_contains: fine
    out: {{ item: "$.data.id", tag: "$.data.tags[1]" }}
  - name: use
    type: shell
    script: echo "item ${{item}} tag ${{tag}}"
    depends_on: [get]
  - name: teapot
    type: http
    url: http://{addr}/teapot
    expect_status: [200, 201]
  - name: teapot_expected
    type: http
    url: http://{addr}/teapot
    expect_status: "400-499"
"#
    );
    server.apply(&yaml);
    let id = server.run("h/calls", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    let get = task(&detail, "get");
    assert_eq!(get.state, "succeeded", "{:?}", get.error);
    assert_eq!(get.out_params["item"], "42");
    assert_eq!(get.out_params["tag"], "b");
    assert!(server.log(&detail, "use").await.contains("item 42 tag b"));
    let teapot = task(&detail, "teapot");
    assert_eq!(teapot.state, "failed");
    assert!(
        teapot.error.as_deref().unwrap().contains("418"),
        "{:?}",
        teapot.error
    );
    assert!(
        server
            .log(&detail, "teapot")
            .await
            .contains("short and stout")
    );
    assert_eq!(task(&detail, "teapot_expected").state, "succeeded");
}

/// Issue 14: without `PGDAG_HTTP_ALLOW`, loopback (by address or by name) is refused after
/// resolution; with it, redirects are followed only on `follow_redirects: true`, and every
/// hop is checked again (a redirect to the cloud metadata address is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tasks_reach_private_addresses_only_when_allowed_and_check_every_redirect() {
    let addr = http_server().await;
    let port = addr.port();
    let guarded = Server::start(&[]).await;
    guarded.apply(&format!(
        r#"project: h
name: inside
tasks:
  - {{ name: by_address, type: http, url: "http://{addr}/ok" }}
  - {{ name: by_name, type: http, url: "http://localhost:{port}/ok" }}
  - {{ name: metadata, type: http, url: "http://169.254.169.254/latest/meta-data/" }}
"#
    ));
    let id = guarded.run("h/inside", serde_json::json!({})).await;
    let detail = guarded.finished(id).await;
    for (name, reason) in [
        ("by_address", "refused: 127.0.0.1 is a loopback address"),
        ("by_name", "loopback address"),
        (
            "metadata",
            "refused: 169.254.169.254 is a link-local address",
        ),
    ] {
        let t = task(&detail, name);
        assert_eq!(t.state, "failed", "{name}");
        let error = t.error.as_deref().unwrap_or_default();
        assert!(error.contains(reason), "{name}: {error}");
        assert!(error.contains("PGDAG_HTTP_ALLOW"), "{name}: {error}");
    }
    assert!(
        !guarded.log(&detail, "by_address").await.contains("fine"),
        "nothing was fetched"
    );

    let allowed = Server::start(&[("PGDAG_HTTP_ALLOW", "127.0.0.1/32")]).await;
    allowed.apply(&format!(
        r#"project: h
name: hops
tasks:
  - {{ name: not_followed, type: http, url: "http://{addr}/to/{addr}~ok" }}
  - {{ name: followed, type: http, url: "http://{addr}/to/{addr}~ok", follow_redirects: true, out: {{ id: "$.data.id" }} }}
  - {{ name: to_metadata, type: http, url: "http://{addr}/to/169.254.169.254~latest", follow_redirects: true }}
"#
    ));
    let id = allowed.run("h/hops", serde_json::json!({})).await;
    let detail = allowed.finished(id).await;
    let not_followed = task(&detail, "not_followed");
    assert_eq!(not_followed.state, "failed");
    assert!(
        not_followed.error.as_deref().unwrap().contains("302"),
        "{:?}",
        not_followed.error
    );
    assert!(
        allowed
            .log(&detail, "not_followed")
            .await
            .contains("not followed")
    );
    let followed = task(&detail, "followed");
    assert_eq!(followed.state, "succeeded", "{:?}", followed.error);
    assert_eq!(followed.out_params["id"], "42");
    let to_metadata = task(&detail, "to_metadata");
    assert_eq!(to_metadata.state, "failed");
    assert!(
        to_metadata
            .error
            .as_deref()
            .unwrap()
            .contains("refused: 169.254.169.254 is a link-local address"),
        "{:?}",
        to_metadata.error
    );
}

// ---- the task environment ----

/// Issue 14: a task's process starts from an empty environment plus the allow-list; no
/// setting of the worker reaches it, and `password_env` may name only what passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_see_only_the_allowed_environment() {
    let server = Server::start(&[
        ("PGDAG_ADMIN_PASSWORD", "admin-pw-must-not-leak"),
        ("AWS_SECRET_ACCESS_KEY", "cloud-key-must-not-leak"),
        ("COMPANY_PROXY", "http://proxy.example:3128"),
        ("TEAM_TOKEN", "team"),
        ("PGDAG_TASK_ENV_PASSTHROUGH", "COMPANY_PROXY, TEAM_*"),
        ("LC_ALL", "C"),
    ])
    .await;
    server.apply(
        r#"project: e
name: env
params: { who: world }
tasks:
  - { name: shell, type: shell, script: env }
  - name: python
    type: python
    script: |
      import os
      for k in sorted(os.environ): print(f"{k}={os.environ[k]}")
  - { name: spawned, type: shell, script: "bash -c env" }
---
kind: datasource
project: e
name: exfil
type: postgres
url: postgres://etl@127.0.0.1:5432/warehouse
password_env: PGDAG_SECRET_KEY
---
project: e
name: steal
tasks:
  - { name: q, type: sql, datasource: exfil, sql: "select 1" }
"#,
    );
    let id = server
        .run("e/env", serde_json::json!({"run.note": "dotted"}))
        .await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);
    // What the worker gets to export is all the payload carries of the params: not the
    // built-ins (`system.*`) nor names with a dot, which no variable can be named after.
    let client = server.store.client().await.unwrap();
    let params: serde_json::Value = client
        .query_one(
            "select payload -> 'params' from pgdag.task_instance where id = $1",
            &[&task(&detail, "shell").id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(params, serde_json::json!({"who": "world"}));
    for name in ["shell", "python", "spawned"] {
        let log = server.log(&detail, name).await;
        for secret in [
            "PGDAG_DATABASE_URL",
            "PGDAG_SECRET_KEY",
            "PGDAG_ADMIN_PASSWORD",
            "PGDAG_SESSION_DATABASE_URL",
            "PGDAG_HTTP_ADDR",
            "must-not-leak",
            SECRET_KEY,
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(!log.contains(secret), "{name}: {secret} in {log}");
        }
        for wanted in [
            "PATH=",
            "LC_ALL=C",
            "COMPANY_PROXY=http://proxy.example:3128",
            "TEAM_TOKEN=team",
            "PGDAG_PARAM_WHO=world",
            "PGDAG_TASK_INSTANCE_ID=",
            "PGDAG_ATTEMPT=1",
        ] {
            assert!(log.contains(wanted), "{name}: {wanted} not in {log}");
        }
    }
    let id = server.run("e/steal", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    let q = task(&detail, "q");
    assert_eq!(q.state, "failed");
    assert!(
        q.error
            .as_deref()
            .unwrap()
            .contains("password_env PGDAG_SECRET_KEY is not in PGDAG_TASK_ENV_PASSTHROUGH"),
        "{:?}",
        q.error
    );
}

// ---- bounded output ----

/// The resident memory of a process, from /proc (Linux), in bytes.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Issue 14: 200 MiB on one line without a newline neither fills the worker's memory nor the
/// log: pieces of at most 64 KiB, the attempt's log cut at PGDAG_TASK_LOG_MAX with a final
/// line saying so, and the worker's RSS stays bounded throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_line_without_newline_is_cut_and_the_worker_stays_small() {
    let server = Server::start(&[("PGDAG_TASK_LOG_MAX", "24MiB")]).await;
    let pid = server._child.0.id();
    server.apply(
        r#"project: o
name: flood
tasks:
  - name: flood
    type: shell
    script: "head -c 209715200 /dev/zero | tr '\\0' x; echo; echo after"
"#,
    );
    let id = server.run("o/flood", serde_json::json!({})).await;
    let store = server.store.clone();
    let watch = tokio::spawn(async move {
        let mut peak = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            peak = peak.max(rss_bytes(pid).unwrap_or(0));
            let client = store.client().await.unwrap();
            let done = pgdag::store::instances::get(&client, id)
                .await
                .unwrap()
                .is_some_and(|d| {
                    d.state
                        .parse::<pgdag::model::WorkflowState>()
                        .unwrap()
                        .is_final()
                });
            if done || std::time::Instant::now() > deadline {
                return peak;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let detail = wait_final(&server.store, id, Duration::from_secs(120)).await;
    let peak = watch.await.unwrap();
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);
    assert!(
        peak < 160 * 1024 * 1024,
        "the worker's RSS reached {} MiB",
        peak / 1024 / 1024
    );
    let client = server.store.client().await.unwrap();
    let task_id = task(&detail, "flood").id;
    let row = client
        .query_one(
            "select count(*), max(length(text)), sum(length(text))::bigint from pgdag.task_log where task_instance_id = $1",
            &[&task_id],
        )
        .await
        .unwrap();
    let (chunks, longest, total): (i64, i32, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(chunks > 300, "{chunks} chunks");
    assert!(longest as usize <= 64 * 1024, "a chunk of {longest} bytes");
    assert!(
        total < 25 * 1024 * 1024 && total > 23 * 1024 * 1024,
        "{total} bytes kept"
    );
    let last = client
        .query_one(
            "select text from pgdag.task_log where task_instance_id = $1 order by seq desc limit 1",
            &[&task_id],
        )
        .await
        .unwrap();
    let last: String = last.get(0);
    assert!(
        last.contains("[pgdag] log cut: output beyond 25165824 bytes of this attempt was not kept"),
        "{last}"
    );
}

// ---- sub_process ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_nested_sub_processes_complete_with_one_worker_slot() {
    let server = Server::start(&[("PGDAG_MAX_TASKS", "1")]).await;
    let mut yaml = String::new();
    for level in 0..20 {
        yaml.push_str(&format!(
            "project: nest\nname: level{level}\ntasks:\n  - {{ name: down, type: sub_process, workflow: level{} }}\n---\n",
            level + 1
        ));
    }
    yaml.push_str(
        "project: nest\nname: level20\ntasks:\n  - name: leaf\n    type: shell\n    script: echo \"leaf got ${x}\"; echo '${setValue(depth=20)}'\n",
    );
    server.apply(&yaml);
    let top = server
        .run("nest/level0", serde_json::json!({"x": "hello"}))
        .await;
    let detail = server.finished(top).await;
    assert_eq!(detail.state, "succeeded");
    let down = task(&detail, "down");
    assert_eq!(
        down.out_params["depth"], "20",
        "out params flow up from the leaf"
    );
    // Walk the chain of children down to the leaf.
    let client = server.store.client().await.unwrap();
    let mut id = top;
    for level in 0..20 {
        let d = pgdag::store::instances::get(&client, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.workflow, format!("level{level}"));
        let child = task(&d, "down")
            .child_instance_id
            .expect("the task links its child");
        let c = pgdag::store::instances::get(&client, child)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.parent_instance_id, Some(id));
        id = child;
    }
    let leaf = pgdag::store::instances::get(&client, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leaf.workflow, "level20");
    assert!(
        log_text(&server.store, task(&leaf, "leaf").id)
            .await
            .contains("leaf got hello")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_and_pausing_a_parent_reach_its_child() {
    let server = Server::start(&[]).await;
    server.apply(
        "project: sp\nname: parent\ntasks:\n  - { name: child, type: sub_process, workflow: slow }\n---\nproject: sp\nname: slow\ntasks:\n  - { name: first, type: shell, script: 'sleep 2' }\n  - { name: second, type: shell, script: 'sleep 30', depends_on: [first] }\n",
    );
    let client = server.store.client().await.unwrap();
    let parent = server.run("sp/parent", serde_json::json!({})).await;
    let child_id = wait_for_child(&server, parent).await;

    // Pause: the child pauses after `first`, then the parent is paused; resume goes on.
    control(&server, "pause", parent).await;
    let paused = wait_state(&server, parent, "paused").await;
    assert_eq!(task(&paused, "child").state, "paused");
    let child = pgdag::store::instances::get(&client, child_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(child.state, "paused");
    control(&server, "resume", parent).await;
    wait_until(&server, child_id, |d| task(d, "second").state == "running").await;

    // Stop: the child is stopped and the parent ends stopped.
    control(&server, "stop", parent).await;
    let stopped = server.finished(parent).await;
    assert_eq!(stopped.state, "stopped");
    assert_eq!(task(&stopped, "child").state, "killed");
    let child = server.finished(child_id).await;
    assert_eq!(child.state, "stopped");
    assert_eq!(task(&child, "second").state, "killed");
}

async fn control(server: &Server, action: &str, id: i64) {
    let client = server.store.client().await.unwrap();
    client
        .execute(
            "insert into pgdag.command (command_type, workflow_instance_id) values ($1, $2)",
            &[&action, &id],
        )
        .await
        .unwrap();
}

async fn wait_until(
    server: &Server,
    id: i64,
    ok: impl Fn(&pgdag::store::instances::InstanceDetail) -> bool,
) -> pgdag::store::instances::InstanceDetail {
    let client = server.store.client().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(d) = pgdag::store::instances::get(&client, id).await.unwrap() {
            if d.tasks.as_ref().is_some_and(|t| !t.is_empty()) && ok(&d) {
                return d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out; last seen {d:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_state(
    server: &Server,
    id: i64,
    state: &str,
) -> pgdag::store::instances::InstanceDetail {
    wait_until(server, id, |d| d.state == state).await
}

async fn wait_for_child(server: &Server, parent: i64) -> i64 {
    let d = wait_until(server, parent, |d| {
        d.tasks
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t.child_instance_id.is_some()))
    })
    .await;
    task(&d, "child").child_instance_id.unwrap()
}

// ---- dependent ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependent_waits_for_its_upstream_then_proceeds_or_gives_up_with_reasons() {
    let server = Server::start(&[]).await;
    server.apply(
        r#"project: d
name: upstream
tasks:
  - { name: load, type: shell, script: echo loaded }
---
project: d
name: downstream
tasks:
  - name: wait_load
    type: dependent
    all:
      - { workflow: upstream, task: load, window: today }
    check_interval: 1s
  - { name: after, type: shell, script: echo after, depends_on: [wait_load] }
---
project: d
name: impatient
tasks:
  - name: wait_never
    type: dependent
    any:
      - { workflow: never_runs, window: today }
      - all:
          - { workflow: upstream, window: last_1_days }
    check_interval: 1s
    failure: wait
    wait_limit: 3s
---
project: d
name: never_runs
tasks:
  - { name: nothing, type: shell, script: 'true' }
"#,
    );
    let down = server.run("d/downstream", serde_json::json!({})).await;
    let waiting = wait_until(&server, down, |d| task(d, "wait_load").state == "waiting").await;
    let log = log_text(&server.store, task(&waiting, "wait_load").id).await;
    assert!(log.contains("d/upstream task load, window today"), "{log}");
    assert!(log.contains("no instance yet (waiting)"), "{log}");

    let up = server.run("d/upstream", serde_json::json!({})).await;
    assert_eq!(server.finished(up).await.state, "succeeded");
    let done = server.finished(down).await;
    assert_eq!(done.state, "succeeded");
    assert_eq!(task(&done, "after").state, "succeeded");
    let log = log_text(&server.store, task(&done, "wait_load").id).await;
    assert!(
        log.contains(&format!("task load of instance {up} succeeded (met)")),
        "{log}"
    );
    assert!(log.contains("dependencies met"), "{log}");

    let impatient = server.run("d/impatient", serde_json::json!({})).await;
    let gave_up = server.finished(impatient).await;
    assert_eq!(gave_up.state, "failed");
    let t = task(&gave_up, "wait_never");
    assert_eq!(t.state, "failed");
    assert!(
        t.error
            .as_deref()
            .unwrap()
            .contains("gave up after waiting 3s"),
        "{:?}",
        t.error
    );
    let log = log_text(&server.store, t.id).await;
    assert!(log.contains("d/never_runs, window today"), "{log}");
    assert!(log.contains("d/upstream, window last_1_days"), "{log}");
    assert!(log.contains("failed: gave up"), "{log}");
}

// ---- conditions and switch ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_and_switch_take_one_branch_and_skip_the_others() {
    let server = Server::start(&[]).await;
    server.apply(
        r#"project: b
name: branches
params: { size: "5", mode: fast }
tasks:
  - { name: check, type: shell, script: 'exit 3' }
  - name: decide
    type: conditions
    depends_on: [check]
    success: [celebrate]
    failure: [repair]
  - { name: celebrate, type: shell, script: echo yay, depends_on: [decide] }
  - { name: repair, type: shell, script: echo repairing, depends_on: [decide] }
  - name: route
    type: switch
    cases:
      - { when: "${size} > 10", then: big }
      - { when: "${size} > 3 && '${mode}' == 'fast'", then: medium }
    default: small
  - { name: big, type: shell, script: echo big, depends_on: [route] }
  - { name: medium, type: shell, script: echo medium, depends_on: [route] }
  - { name: small, type: shell, script: echo small, depends_on: [route] }
  - { name: join, type: empty, depends_on: [{ task: big, on: always }, { task: medium, on: always }, { task: small, on: always }] }
"#,
    );
    let id = server.run("b/branches", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(
        detail.state, "succeeded",
        "the conditions task handles check's failure"
    );
    assert_eq!(task(&detail, "check").state, "failed");
    assert_eq!(
        task(&detail, "decide").branch,
        Some(vec!["repair".to_string()])
    );
    assert_eq!(task(&detail, "repair").state, "succeeded");
    assert_eq!(task(&detail, "celebrate").state, "skipped");
    assert_eq!(
        task(&detail, "route").branch,
        Some(vec!["medium".to_string()])
    );
    assert_eq!(task(&detail, "medium").state, "succeeded");
    assert_eq!(task(&detail, "big").state, "skipped");
    assert_eq!(task(&detail, "small").state, "skipped");
    assert_eq!(task(&detail, "join").state, "succeeded");
    let log = server.log(&detail, "route").await;
    assert!(
        log.contains("case `${size} > 10`: false") && log.contains("taking medium"),
        "{log}"
    );

    // With startup params the default is taken.
    let id = server
        .run("b/branches", serde_json::json!({"size": "1"}))
        .await;
    let detail = server.finished(id).await;
    assert_eq!(
        task(&detail, "route").branch,
        Some(vec!["small".to_string()])
    );
    assert_eq!(task(&detail, "small").state, "succeeded");
}

// ---- spark and mr ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_and_mr_run_their_command_lines_from_home_directories() {
    let home = temp_dir();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for program in ["spark-submit", "hadoop"] {
        let path = bin.join(program);
        std::fs::write(
            &path,
            "#!/bin/sh\nfor a in \"$@\"; do echo \"arg[$a]\"; done\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let home_text = home.path().to_str().unwrap().to_string();
    let server = Server::start(&[("SPARK_HOME", &home_text), ("HADOOP_HOME", &home_text)]).await;
    server.apply(
        r#"project: j
name: jobs
params: { day: "2026-01-02" }
tasks:
  - name: spark
    type: spark
    main: /jobs/etl.py
    master: yarn
    deploy_mode: cluster
    executor_memory: 2g
    conf: { spark.sql.shuffle.partitions: "8" }
    args: ["--day", "${day}", "two words"]
  - name: mr
    type: mr
    jar: /jobs/wc.jar
    main_class: org.example.WordCount
    queue: etl
    args: [/in, /out]
"#,
    );
    let id = server.run("j/jobs", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);
    let spark = server.log(&detail, "spark").await;
    for expected in [
        "arg[--master]\narg[yarn]",
        "arg[--deploy-mode]\narg[cluster]",
        "arg[--executor-memory]\narg[2g]",
        "arg[--conf]\narg[spark.sql.shuffle.partitions=8]",
        "arg[/jobs/etl.py]\narg[--day]\narg[2026-01-02]\narg[two words]",
    ] {
        assert!(spark.contains(expected), "{expected:?} in {spark}");
    }
    let mr = server.log(&detail, "mr").await;
    assert!(
        mr.contains("arg[jar]\narg[/jobs/wc.jar]\narg[org.example.WordCount]\narg[-D]\narg[mapreduce.job.queuename=etl]\narg[/in]\narg[/out]"),
        "{mr}"
    );
}

/// A real Spark job in local mode, when `spark-submit` is here (`.ci/run` installs pyspark
/// from PyPI, which brings one; Java 17 runs it). Without it the test says so and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_runs_a_real_job_in_local_mode_when_spark_submit_is_installed() {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join("spark-submit").is_file()))
        .unwrap_or(false);
    if std::env::var_os("SPARK_HOME").is_none() && !on_path {
        assert!(
            std::env::var_os("PGDAG_REQUIRE_SPARK").is_none(),
            "PGDAG_REQUIRE_SPARK is set but there is no spark-submit"
        );
        eprintln!("skipped: no spark-submit on PATH and no SPARK_HOME (pip install pyspark)");
        return;
    }
    let dir = temp_dir();
    let job = dir.path().join("count.py");
    std::fs::write(
        &job,
        "import sys\nfrom pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.getOrCreate()\n\
         n = spark.sparkContext.parallelize(range(int(sys.argv[1]))).count()\n\
         print(f'counted {n} rows')\nspark.stop()\n",
    )
    .unwrap();
    let server = Server::start(&[]).await;
    server.apply(&format!(
        r#"project: j
name: real_spark
params: {{ rows: "1234" }}
tasks:
  - name: count
    type: spark
    main: {}
    master: "local[1]"
    conf: {{ spark.ui.enabled: "false" }}
    args: ["${{rows}}"]
"#,
        job.display()
    ));
    let id = server.run("j/real_spark", serde_json::json!({})).await;
    let detail = wait_final(&server.store, id, Duration::from_secs(240)).await;
    let log = server.log(&detail, "count").await;
    assert_eq!(detail.state, "succeeded", "{log}");
    assert!(log.contains("counted 1234 rows"), "{log}");
}

// ---- datasource secrets ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_passwords_need_the_key_and_are_never_shown() {
    let db = TestDb::new().await;
    let dir = temp_dir();
    let file = dir.path().join("ds.yaml");
    std::fs::write(
        &file,
        "kind: datasource\nproject: k\nname: wh\ntype: postgres\nurl: postgres://etl@db.example:5432/wh\npassword: hunter2-secret\n",
    )
    .unwrap();
    // Without the key, apply refuses (exit 2) and stores nothing.
    let mut apply = pgdag(&db);
    apply
        .args(["apply", "-f", file.to_str().unwrap()])
        .env_remove("PGDAG_SECRET_KEY");
    let out = apply.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("datasource k/wh has a password: set PGDAG_SECRET_KEY"),
        "{stderr}"
    );
    // With it, the password is stored encrypted.
    let mut apply = pgdag(&db);
    apply
        .args(["apply", "-f", file.to_str().unwrap()])
        .env("PGDAG_SECRET_KEY", SECRET_KEY);
    assert!(apply.output().unwrap().status.success());

    // A worker without the key (or with another one) does not start, and says why.
    for key in [None, Some("a different key of enough length")] {
        let mut server = pgdag(&db);
        server
            .args(["server", "--roles", "worker"])
            .env_remove("PGDAG_SECRET_KEY");
        if let Some(key) = key {
            server.env("PGDAG_SECRET_KEY", key);
        }
        let out = server.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "a configuration error: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("PGDAG_SECRET_KEY"), "{stderr}");
    }

    // The API lists the datasource without its password.
    let mut config = db.config();
    config.database_url = db.url.clone();
    let running = pgdag::server::start(config, &[pgdag::server::Role::Api])
        .await
        .unwrap();
    let store = db.store();
    let client = store.client().await.unwrap();
    pgdag::store::users::add(&client, "ann", None, true)
        .await
        .unwrap();
    let token = pgdag::store::users::create_token(&client, "ann", None, None)
        .await
        .unwrap()
        .token;
    let base = format!("http://{}/api/v1", running.api_addr.unwrap());
    let http = reqwest::Client::new();
    let body: serde_json::Value = http
        .get(format!("{base}/projects/k/datasources"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["datasources"][0]["name"], "wh");
    assert_eq!(body["datasources"][0]["has_stored_password"], true);
    assert!(!body.to_string().contains("hunter2"), "{body}");
    // A datasource with a password in its URL is refused with the reason.
    let response = http
        .post(format!("{base}/projects/k/datasources"))
        .bearer_auth(&token)
        .body("kind: datasource\nproject: k\nname: bad\ntype: postgres\nurl: postgres://etl:pw@db:5432/x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let text = response.text().await.unwrap();
    assert!(text.contains("must not contain a password"), "{text}");
    running.stop().await;
}

// ---- tenants ----

/// An OS user (and a supplementary group of its own) made for one test, removed after.
/// `None` (with the reason printed) when this process is not root, unless
/// `PGDAG_REQUIRE_TENANTS` is set (CI), where that fails the test.
struct TestOsUser {
    name: String,
    uid: u32,
    extra_gid: u32,
}

impl TestOsUser {
    fn create() -> Option<TestOsUser> {
        if !nix::unistd::geteuid().is_root() {
            assert!(
                std::env::var_os("PGDAG_REQUIRE_TENANTS").is_none(),
                "PGDAG_REQUIRE_TENANTS is set but the tests do not run as root"
            );
            eprintln!("skipped: tenant tests create OS users and need root");
            return None;
        }
        let name = format!("pgt{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let group = format!("{name}x");
        let ok = |mut c: std::process::Command| {
            let out = c.output().unwrap();
            assert!(out.status.success(), "{c:?}: {out:?}");
        };
        let mut c = std::process::Command::new("groupadd");
        c.arg(&group);
        ok(c);
        let mut c = std::process::Command::new("useradd");
        c.args(["-m", "-s", "/bin/bash", "-G", &group, &name]);
        ok(c);
        let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
        let extra_gid = nix::unistd::Group::from_name(&group)
            .unwrap()
            .unwrap()
            .gid
            .as_raw();
        Some(TestOsUser {
            name,
            uid: user.uid.as_raw(),
            extra_gid,
        })
    }

    /// Live processes of this user (from /proc).
    fn processes(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok());
            let zombie = status
                .lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'));
            if uid == Some(self.uid) && !zombie {
                out.push(pid);
            }
        }
        out
    }

    async fn wait_processes(&self, alive: bool, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.processes().is_empty() == alive {
            assert!(std::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestOsUser {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::process::Command::new("userdel")
            .args(["-r", &self.name])
            .output();
        let _ = std::process::Command::new("groupdel")
            .arg(format!("{}x", self.name))
            .output();
    }
}

fn tenant_yaml(user: &str) -> String {
    format!(
        "kind: tenant\nname: team\nos_user: {user}\nprojects: [e]\n---\nkind: tenant\nname: ghost\nos_user: pgdag_no_such_user\nprojects: [e]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_tasks_run_as_its_os_user_and_a_missing_user_fails_without_retry() {
    let Some(user) = TestOsUser::create() else {
        return;
    };
    let server = Server::start(&[]).await;
    server.apply(&format!(
        r#"{}---
project: e
name: as_tenant
tenant: team
params: {{ who: world }}
env: {{ GREETING: "hello ${{who}}" }}
tasks:
  - name: who
    type: shell
    env: {{ LOCAL: here }}
    script: |
      echo "UID=$(id -u) GROUPS=$(id -G)"
      echo "HOME=$HOME USER=$USER"
      echo "GREETING=$GREETING LOCAL=$LOCAL"
      touch "$HOME/written" && echo wrote-home
  - {{ name: py, type: python, script: "import os; print('PYUID', os.getuid())" }}
---
project: e
name: ghostly
tenant: ghost
tasks:
  - {{ name: t, type: shell, script: echo never, retries: 2 }}
---
project: e
name: mine
tasks:
  - {{ name: t, type: shell, script: "id -u" }}
"#,
        tenant_yaml(&user.name)
    ));
    let id = server.run("e/as_tenant", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);
    let log = server.log(&detail, "who").await;
    assert!(log.contains(&format!("UID={} ", user.uid)), "{log}");
    assert!(
        log.contains(&user.extra_gid.to_string()),
        "supplementary group: {log}"
    );
    assert!(
        log.contains(&format!("HOME=/home/{0} USER={0}", user.name)),
        "{log}"
    );
    assert!(log.contains("GREETING=hello world LOCAL=here"), "{log}");
    assert!(log.contains("wrote-home"), "{log}");
    let py = server.log(&detail, "py").await;
    assert!(py.contains(&format!("PYUID {}", user.uid)), "{py}");

    // Without a tenant nothing changes: the worker's own user.
    let id = server.run("e/mine", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    let me = nix::unistd::geteuid().as_raw();
    assert!(
        server
            .log(&detail, "t")
            .await
            .contains(&format!("\n{me}\n"))
    );

    // A tenant whose user this host does not have: failed at once, not retried.
    let id = server.run("e/ghostly", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    let t = task(&detail, "t");
    assert_eq!((t.state.as_str(), t.attempt), ("failed", 1), "{t:?}");
    let error = t.error.as_deref().unwrap();
    assert!(
        error.starts_with(
            "tenant ghost: OS user pgdag_no_such_user does not exist on the host of worker "
        ),
        "{error}"
    );

    // A project the tenant does not list: apply refuses, naming the file and line.
    let dir = temp_dir();
    let file = dir.path().join("other.yaml");
    std::fs::write(
        &file,
        "project: other\nname: w\ntenant: team\ntasks: [{name: a, type: shell, script: id}]\n",
    )
    .unwrap();
    let out = pgdag(&server.db)
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "other.yaml:3:1: workflow other/w: tenant team may not be used by project other"
        ),
        "{stderr}"
    );
}

/// A project's default tenant: its workflows that name no tenant run as that OS user;
/// another project the tenant allows (but is not the default of) stays on the worker's user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projects_default_tenant_runs_its_workflows_that_name_none() {
    let Some(user) = TestOsUser::create() else {
        return;
    };
    let server = Server::start(&[]).await;
    server.apply(&format!(
        "kind: tenant\nname: team\nos_user: {}\nprojects: [d, x]\ndefault_for: [d]\n---\nproject: d\nname: plain\ntasks:\n  - {{ name: t, type: shell, script: \"id -u\" }}\n---\nproject: x\nname: plain\ntasks:\n  - {{ name: t, type: shell, script: \"id -u\" }}\n",
        user.name
    ));
    let id = server.run("d/plain", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);
    let log = server.log(&detail, "t").await;
    assert!(log.contains(&format!("\n{}\n", user.uid)), "{log}");
    let id = server.run("x/plain", serde_json::json!({})).await;
    let detail = server.finished(id).await;
    let me = nix::unistd::geteuid().as_raw();
    let log = server.log(&detail, "t").await;
    assert!(log.contains(&format!("\n{me}\n")), "{log}");

    // A second default for d is refused, and so is a default the tenant does not allow.
    let dir = temp_dir();
    for (yaml, says) in [
        (
            "kind: tenant\nname: rival\nos_user: nobody\nprojects: [d]\ndefault_for: [d]\n",
            "project d already has default tenant team",
        ),
        (
            "kind: tenant\nname: rival\nos_user: nobody\nprojects: [x]\ndefault_for: [d]\n",
            "project d is in `default_for` but not in `projects`",
        ),
    ] {
        let file = dir.path().join("rival.yaml");
        std::fs::write(&file, yaml).unwrap();
        let out = pgdag(&server.db)
            .args(["apply", "-f", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_process_group_is_killed_and_reaped_after_a_worker_crash() {
    let Some(user) = TestOsUser::create() else {
        return;
    };
    let state = temp_dir();
    let state_dir = state.path().to_str().unwrap().to_string();
    let mut server = Server::start(&[("PGDAG_STATE_DIR", &state_dir)]).await;
    server.apply(&format!(
        "{}---\nproject: e\nname: nap\ntenant: team\ntasks:\n  - {{ name: t, type: shell, script: \"sleep 300 & sleep 300\" }}\n",
        tenant_yaml(&user.name)
    ));

    // A kill (stop) ends the tenant's whole process group.
    let id = server.run("e/nap", serde_json::json!({})).await;
    user.wait_processes(true, "the tenant's task to start")
        .await;
    control(&server, "stop", id).await;
    wait_state(&server, id, "stopped").await;
    user.wait_processes(false, "the stopped task's processes to end")
        .await;

    // A worker killed with SIGKILL leaves the group running; the next worker on this host
    // (same state directory) reaps it, though it belongs to another user.
    let id = server.run("e/nap", serde_json::json!({})).await;
    wait_until(&server, id, |d| task(d, "t").state == "running").await;
    user.wait_processes(true, "the second run to start").await;
    server._child.0.kill().unwrap();
    server._child.0.wait().unwrap();
    assert!(
        !user.processes().is_empty(),
        "the group died with its worker; the test proves nothing"
    );
    server._child = Server::spawn_on(&server.db, &[("PGDAG_STATE_DIR", &state_dir)]);
    user.wait_processes(false, "the restarted worker to reap the tenant's group")
        .await;
}

/// A task runs with a clean environment, but one that runs as the worker's own OS user
/// could still read the worker's through `/proc/<pid>/environ` (or its memory): every
/// pgdag process makes itself not dumpable, so those entries belong to root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_of_pgdags_own_os_user_cannot_read_its_environment() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let Some(user) = TestOsUser::create() else {
        return;
    };
    let gid = nix::unistd::User::from_name(&user.name)
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    let db = TestDb::new().await;
    let mut server = pgdag(&db);
    server
        .args(["server", "--roles", "api"])
        .env("PGDAG_SECRET_KEY", "the-test-secret-key-0123456789")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .uid(user.uid)
        .gid(gid);
    let mut child = ChildGuard(server.spawn().expect("spawn pgdag as the test user"));
    // Up: it printed where it listens.
    let stdout = child.0.stdout.take().unwrap();
    let mut first = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("listening"), "{first:?}");
    let environ = format!("/proc/{}/environ", child.0.id());
    // The variable is there (root may read it) ...
    let as_root = std::fs::read(&environ).unwrap();
    assert!(
        String::from_utf8_lossy(&as_root).contains("PGDAG_SECRET_KEY="),
        "the server's environment holds the key"
    );
    // ... but a process of the server's own user may not.
    let read = std::process::Command::new("cat")
        .arg(&environ)
        .uid(user.uid)
        .gid(gid)
        .output()
        .unwrap();
    assert!(
        !read.status.success(),
        "a process of the same user read {environ}"
    );
    assert!(!String::from_utf8_lossy(&read.stdout).contains("PGDAG_SECRET_KEY"));
    assert!(
        String::from_utf8_lossy(&read.stderr).contains("Permission denied"),
        "{read:?}"
    );
}
