//! `pgdag_queries_total` counts exactly the statements pgdag sends, and each statement is
//! prepared once per connection.
//!
//! The evidence comes from outside the process: every connection of one workflow run (all
//! four roles and the test's own client) goes through a small proxy that reads the
//! frontend protocol and counts what reaches Postgres — `Execute` messages (prepared
//! statements), `Query` messages (simple statements) and `Parse` messages (preparations, by
//! connection). A statement issued past the store's helper would be sent but not counted,
//! and one prepared again and again would show as a repeated `Parse` on one connection.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgdag::server::{self, Role};
use pgdag::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{self, TestDb};

const CHILD_VAR: &str = "PGDAG_TEST_QUERY_COUNT_CHILD";

/// The counter is process-wide and this binary runs its tests in parallel: the run is
/// measured in a process of its own (this binary again, running only the test below).
#[test]
fn the_query_counter_matches_the_statements_sent_for_one_run() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "queries::counted_run",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
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
        "the measured run ran: {stdout}"
    );
}

#[derive(Default)]
struct Traffic {
    /// `Execute` messages: runs of prepared statements.
    executes: u64,
    /// The text of every `Query` message (simple statements).
    simple: Vec<String>,
    /// (connection, statement text) -> how many times it was prepared there.
    parses: HashMap<(u64, String), u32>,
    /// (connection, statement name) -> its text.
    names: HashMap<(u64, String), String>,
    /// The parameters of every run of a prepared statement, by its text: the raw bytes of
    /// each (`None` for null).
    binds: HashMap<String, Vec<Vec<Option<Vec<u8>>>>>,
    open_connections: u64,
    /// Transactions committed with no statement run in them (settings aside).
    empty_transactions: u64,
}

/// The parameter values of a `Bind` message body, and the statement it names.
fn bind_values(body: &[u8]) -> (String, Vec<Option<Vec<u8>>>) {
    let (_portal, rest) = cstr(body);
    let (statement, rest) = cstr(rest);
    let int16 = |b: &[u8]| i16::from_be_bytes([b[0], b[1]]) as usize;
    let formats = int16(rest);
    let rest = &rest[2 + 2 * formats..];
    let count = int16(rest);
    let mut rest = &rest[2..];
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i32::from_be_bytes(rest[..4].try_into().unwrap());
        rest = &rest[4..];
        if len < 0 {
            values.push(None);
        } else {
            values.push(Some(rest[..len as usize].to_vec()));
            rest = &rest[len as usize..];
        }
    }
    (statement, values)
}

/// A TCP proxy to `upstream` (host:port) that records the frontend messages.
async fn proxy(upstream: String) -> (u16, Arc<Mutex<Traffic>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let shared = traffic.clone();
    tokio::spawn(async move {
        let mut next_id = 0u64;
        while let Ok((client, _)) = listener.accept().await {
            next_id += 1;
            let (id, traffic, upstream) = (next_id, shared.clone(), upstream.clone());
            traffic.lock().unwrap().open_connections += 1;
            tokio::spawn(async move {
                let _ = relay(id, client, &upstream, &traffic).await;
                traffic.lock().unwrap().open_connections -= 1;
            });
        }
    });
    (port, traffic)
}

/// NUL-terminated string at the start of `bytes`.
fn cstr(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let rest = bytes.get(end + 1..).unwrap_or(&[]);
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), rest)
}

async fn relay(
    id: u64,
    mut client: TcpStream,
    upstream: &str,
    traffic: &Mutex<Traffic>,
) -> std::io::Result<()> {
    // The startup phase has no message types; answer an SSL or GSS request with "no".
    let startup = loop {
        let len = client.read_u32().await?;
        let mut body = vec![0; len as usize - 4];
        client.read_exact(&mut body).await?;
        let code = u32::from_be_bytes(body[..4].try_into().unwrap());
        if code == 80877103 || code == 80877104 {
            client.write_all(b"N").await?;
            continue;
        }
        let mut message = len.to_be_bytes().to_vec();
        message.extend(body);
        break message;
    };
    let server = TcpStream::connect(upstream).await?;
    let (mut server_read, mut server_write) = server.into_split();
    let (mut client_read, mut client_write) = client.into_split();
    server_write.write_all(&startup).await?;
    let down =
        tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
    // Statements run since this connection's `BEGIN`, while a transaction is open.
    let mut in_transaction: Option<u32> = None;
    loop {
        let mut kind = [0u8; 1];
        if client_read.read_exact(&mut kind).await.is_err() {
            break;
        }
        let len = client_read.read_u32().await?;
        let mut body = vec![0; len as usize - 4];
        client_read.read_exact(&mut body).await?;
        // Recorded before Postgres sees it, as the counter is bumped before sending.
        {
            let mut t = traffic.lock().unwrap();
            match kind[0] {
                b'E' => {
                    t.executes += 1;
                    in_transaction = in_transaction.map(|n| n + 1);
                }
                b'Q' => {
                    let text = cstr(&body).0;
                    let first = text.split_whitespace().next().unwrap_or("").to_uppercase();
                    match first.as_str() {
                        "BEGIN" | "START" => in_transaction = Some(0),
                        "COMMIT" => {
                            if in_transaction == Some(0) {
                                t.empty_transactions += 1;
                            }
                            in_transaction = None;
                        }
                        "ROLLBACK" => in_transaction = None,
                        "SET" | "RESET" | "SAVEPOINT" | "RELEASE" => {}
                        _ => in_transaction = in_transaction.map(|n| n + 1),
                    }
                    t.simple.push(text);
                }
                b'P' => {
                    let (name, rest) = cstr(&body);
                    let text = cstr(rest).0;
                    *t.parses.entry((id, text.clone())).or_default() += 1;
                    t.names.insert((id, name), text);
                }
                b'B' => {
                    let (statement, values) = bind_values(&body);
                    let text = t.names.get(&(id, statement)).cloned().unwrap_or_default();
                    t.binds.entry(text).or_default().push(values);
                }
                _ => {}
            }
        }
        server_write.write_all(&kind).await?;
        server_write.write_all(&len.to_be_bytes()).await?;
        server_write.write_all(&body).await?;
    }
    let _ = server_write.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), down).await;
    Ok(())
}

/// `url` with its host and port replaced by the proxy's; and the host:port it named.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let scheme_end = url.find("://").unwrap() + 3;
    let path_start = scheme_end + url[scheme_end..].find('/').unwrap();
    let authority = &url[scheme_end..path_start];
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    let proxied = format!(
        "{}{userinfo}127.0.0.1:{port}{}",
        &url[..scheme_end],
        &url[path_start..]
    );
    (proxied, hostport)
}

/// `db`'s config with every connection through a new proxy: the config, the proxied URL
/// and what the proxy sees.
async fn proxied(db: &TestDb) -> (pgdag::config::Config, String, Arc<Mutex<Traffic>>) {
    let (port, traffic) = proxy(through_proxy(&db.url, 0).1).await;
    let (url, _) = through_proxy(&db.url, port);
    let mut config = db.config();
    config.database_url = url.clone();
    config.session_database_url = None;
    (config, url, traffic)
}

/// What the driver sends by itself for `transaction()`, `commit()` and savepoints: not
/// statements of pgdag's, and not counted.
fn transaction_control(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or("");
    [
        "BEGIN",
        "START",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
    ]
    .contains(&first)
}

const WORKFLOW: &str = r#"
project: t
name: counted
tasks:
  - name: first
    type: shell
    script: echo '${setValue(rows=42)}'
  - name: second
    type: python
    script: print("rows=${rows}")
    depends_on: [first]
  - name: third
    type: empty
    depends_on: [second]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measured in a process of its own by the_query_counter_matches_the_statements_sent_for_one_run"]
async fn counted_run() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return; // run with --ignored among other tests: the count would not be ours alone
    }
    let db = TestDb::new().await;
    let (config, url, traffic) = proxied(&db).await;

    let before = pgdag::metrics::QUERIES.load(Ordering::SeqCst);
    let running = server::start(config, &Role::ALL)
        .await
        .expect("roles start");
    let store = Store::connect(&url, "pgdag:test", 2).unwrap();
    harness::apply(&store, WORKFLOW).await;
    let id = harness::run(&store, "t/counted", serde_json::json!({})).await;
    let detail = harness::wait_final(&store, id, Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded");
    running.stop().await;
    store.pool.close();
    drop(store);

    // Every connection closed: nothing more can be sent, and the proxy has seen it all.
    let deadline = Instant::now() + Duration::from_secs(20);
    while traffic.lock().unwrap().open_connections > 0 {
        assert!(
            Instant::now() < deadline,
            "connections still open after the stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counted = pgdag::metrics::QUERIES.load(Ordering::SeqCst) - before;

    let t = traffic.lock().unwrap();
    let simple: Vec<&String> = t
        .simple
        .iter()
        .filter(|q| !transaction_control(q))
        .collect();
    println!(
        "counted {counted}; sent: {} executes, {} simple statements ({simple:?}), {} preparations",
        t.executes,
        simple.len(),
        t.parses.len()
    );
    assert!(t.executes > 100, "a run takes more statements than that");
    assert_eq!(
        counted,
        t.executes + simple.len() as u64,
        "pgdag_queries_total counts what was sent, no more, no less"
    );
    // LISTEN, and the settings of a session or transaction: how plans are kept
    // (store::db), how an evaluation commits (store::instances::commit_lazily).
    assert!(
        simple.iter().all(|q| q.starts_with("LISTEN ")
            || q.starts_with("set plan_cache_mode = ")
            || q.starts_with("set local synchronous_commit ")
            || q.starts_with("set enable_seqscan = off")
            || q.starts_with("reset enable_seqscan")),
        "only LISTEN and settings go as simple statements: {simple:?}"
    );
    assert!(
        simple
            .iter()
            .any(|q| q.starts_with("set plan_cache_mode = force_generic_plan; set jit = off")),
        "pooled connections keep their plans: {simple:?}"
    );
    // A transaction costs its round trips and a commit even when it does nothing: the
    // shipper sent one per attempt that began (its log numbering alone).
    assert_eq!(
        t.empty_transactions, 0,
        "transactions that ran no statement"
    );
    let repeated: Vec<_> = t.parses.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "prepared more than once on one connection: {repeated:#?}"
    );
    let mut texts = HashSet::new();
    collect_sql(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/queries"),
        &mut texts,
    );
    let foreign: Vec<&String> = t
        .parses
        .keys()
        .map(|(_, text)| text)
        .filter(|text| !texts.contains(*text))
        .collect();
    assert!(
        foreign.is_empty(),
        "prepared statements not from sql/queries: {foreign:#?}"
    );
}

/// After an evaluation that leaves nothing due, the evaluator's round ends: it used to
/// claim once more and find nothing, a transaction of four round trips after each
/// evaluation (each outcome flush of a fan-out). Counted are the claims for evaluation
/// that reach Postgres, master only: the instance's one task stays queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluation_that_leaves_nothing_due_ends_the_evaluators_round() {
    use pgdag::service::rounds::EVALUATOR;
    let db = TestDb::new().await;
    let (config, _url, traffic) = proxied(&db).await;
    let running = server::start(config, &[Role::Master])
        .await
        .expect("master starts");
    let store = db.store();
    harness::apply(
        &store,
        "project: t\nname: one\ntasks:\n  - { name: a, type: shell, script: \"true\" }\n",
    )
    .await;
    let id = harness::run(&store, "t/one", serde_json::json!({})).await;
    let client = store.client().await.unwrap();
    let queued =
        "select 1 from pgdag.task_instance where workflow_instance_id = $1 and state = 'queued'";
    wait_for_rows(&client, queued, id, true).await;
    // A whole evaluator round begun after this point, woken here.
    let settled = async || {
        let rounds = &running.wakeups.rounds;
        let mark = rounds.mark(EVALUATOR);
        running.wakeups.eval.notify_one();
        assert!(
            rounds
                .wait_past(EVALUATOR, mark, Duration::from_secs(30))
                .await
        );
    };
    // After everything the start announced.
    settled().await;
    let claim_eval = include_str!("../../sql/queries/instances/claim_eval.sql");
    let claims = || {
        traffic
            .lock()
            .unwrap()
            .binds
            .get(claim_eval)
            .map_or(0, Vec::len)
    };
    let before = claims();
    // An event for the instance: its evaluation changes nothing (the task is still queued)
    // and leaves nothing due.
    client
        .execute(
            "insert into pgdag.instance_event (workflow_instance_id) values ($1)",
            &[&id],
        )
        .await
        .unwrap();
    running.wakeups.eval.notify_one();
    let events = "select 1 from pgdag.instance_event where workflow_instance_id = $1";
    wait_for_rows(&client, events, id, false).await;
    // Rounds run one after another: once a later one has run, the evaluation's is over.
    settled().await;
    assert_eq!(
        claims() - before,
        2,
        "the evaluation's claim and the later round's, nothing in between"
    );
    running.stop().await;
}

/// Poll `sql` (one parameter, `id`) every 20 ms until it returns a row (`present`) or none;
/// panics after 60 s.
async fn wait_for_rows(client: &deadpool_postgres::Object, sql: &str, id: i64, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.query_opt(sql, &[&id]).await.unwrap().is_some() != present {
        assert!(
            Instant::now() < deadline,
            "{sql} for {id}: still {}",
            if present { "no row" } else { "a row" }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn collect_sql(dir: &Path, texts: &mut HashSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_sql(&path, texts);
        } else {
            texts.insert(std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// A pooled connection keeps one plan per statement (the claim's, an evaluation's: no
/// planning at each bind), while a list with optional filters is planned for each call's
/// values, and the connection keeps its mode after it.
#[tokio::test]
async fn pooled_statements_keep_one_plan_and_filtered_lists_are_planned_per_call() {
    let db = TestDb::new().await;
    let store = Store::connect(&db.url, "pgdag:test", 1).unwrap();
    let client = store.client().await.unwrap();
    for _ in 0..7 {
        pgdag::store::instances::next_due_ms(&client, None)
            .await
            .unwrap();
        pgdag::store::members::list(&client, None).await.unwrap();
    }
    let mode: String = client
        .query_one("show plan_cache_mode", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "force_generic_plan");
    let jit: String = client.query_one("show jit", &[]).await.unwrap().get(0);
    assert_eq!(
        jit, "off",
        "no JIT compilation at each call of a generic plan"
    );
    let plans = |rows: Vec<tokio_postgres::Row>, needle: &str| -> (i64, i64) {
        let row = rows
            .iter()
            .find(|r| r.get::<_, String>(0).contains(needle))
            .unwrap_or_else(|| panic!("{needle} is prepared on the connection"));
        (row.get(1), row.get(2))
    };
    let rows = client
        .query(
            "select statement, generic_plans, custom_plans from pg_prepared_statements",
            &[],
        )
        .await
        .unwrap();
    // Its parameter (the clock) would otherwise get it planned for each call's value.
    let next_due = include_str!("../../sql/queries/instances/next_due.sql");
    let (generic, custom) = plans(rows.clone(), next_due.trim());
    assert_eq!(
        (generic, custom),
        (7, 0),
        "instances/next_due: one generic plan, never planned again"
    );
    // `auto` plans the first five calls for their values.
    let (_, custom) = plans(rows, pgdag::store::db::PLAN_PER_CALL);
    assert!(
        custom >= 5,
        "members/list is planned per call: {custom} custom plans"
    );
    drop(client);
    store.pool.close();
}

/// Each connection keeps its own prepared statements and plans (made again after every
/// `VACUUM` or `ANALYZE` of their tables): the pool hands out the one returned last, so that
/// a process busy on few connections keeps using the same ones.
#[tokio::test]
async fn the_pool_hands_out_the_connection_returned_last() {
    let db = TestDb::new().await;
    let store = Store::connect(&db.url, "pgdag:test", 3).unwrap();
    let first = store.client().await.unwrap();
    let second = store.client().await.unwrap();
    let first_pid = backend_pid(&first).await;
    let second_pid = backend_pid(&second).await;
    assert_ne!(first_pid, second_pid);
    drop(first);
    drop(second);
    for _ in 0..3 {
        let again = store.client().await.unwrap();
        assert_eq!(
            backend_pid(&again).await,
            second_pid,
            "the connection returned last is handed out again"
        );
    }
    store.pool.close();
}

async fn backend_pid(client: &deadpool_postgres::Object) -> i32 {
    client
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

/// The plan of statement `sql` (parameter types `types`) for `args`, explained with
/// `options`, as text: the generic one, which a pooled connection keeps (store::db).
async fn generic_plan(
    client: &deadpool_postgres::Object,
    sql: &str,
    types: &str,
    options: &str,
    args: &str,
) -> String {
    client
        .batch_execute(&format!("prepare explained ({types}) as {sql}"))
        .await
        .unwrap();
    let plan = explain(
        client,
        &format!("explain {options} execute explained({args})"),
    )
    .await;
    client.batch_execute("deallocate explained").await.unwrap();
    plan
}

/// The lines of what `explain` (a whole `explain ...` statement) prints, as one text.
async fn explain(client: &deadpool_postgres::Object, explain: &str) -> String {
    let lines: Vec<String> = client
        .simple_query(explain)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    lines.join("\n")
}

/// A cluster whose one instance ran one shell task; and the instance's id.
async fn one_finished_task() -> (harness::TestCluster, i64) {
    let cluster = harness::TestCluster::start().await;
    cluster
        .apply("project: t\nname: one\ntasks:\n  - { name: a, type: shell, script: 'true' }\n")
        .await;
    let id = cluster.run("t/one", serde_json::json!({})).await;
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
    (cluster, id)
}

/// The claim's one plan (made without knowing how many rows `limit $2` gives, so taken
/// for a tenth of the queue) keeps to the indexes: with a join it hashed the whole queue
/// and every task instance at each claim (20 claims/s at 1,000,000 queued).
#[tokio::test]
async fn the_claim_plan_made_once_reads_the_queue_by_its_indexes() {
    let (cluster, _) = one_finished_task().await;
    let client = cluster.store.client().await.unwrap();
    // 20,000 queued attempts in a group no worker serves, copies of the finished one.
    client
        .batch_execute(
            "with made as (
                 insert into pgdag.task_instance
                     (workflow_instance_id, task_code, task_version, name, task_type, state,
                      worker_group, payload, queued_at, attempt)
                 select t.workflow_instance_id, t.task_code, t.task_version, 'b' || g, 'shell',
                        'queued', 'nobody', '{}'::jsonb, now(), 1
                 from (select * from pgdag.task_instance order by id limit 1) t,
                      generate_series(1, 20000) g
                 returning id, workflow_instance_id, priority
             )
             insert into pgdag.task_queue
                 (task_instance_id, workflow_instance_id, workflow_priority, task_priority,
                  worker_group, in_process)
             select id, workflow_instance_id, 2, priority, 'nobody', false from made;
             analyze pgdag.task_queue;
             analyze pgdag.task_instance;",
        )
        .await
        .unwrap();
    let plan = generic_plan(
        &client,
        include_str!("../../sql/queries/queue/claim.sql"),
        "text[], bigint, text, bigint, bigint",
        "",
        "'{nobody}', 12, 'test', 0, 0",
    )
    .await;
    assert!(plan.contains("Tid Scan on task_queue"), "{plan}");
    assert!(
        !plan.contains("Seq Scan on task_queue") && !plan.contains("Seq Scan on task_instance"),
        "the claim's generic plan reads a whole table:\n{plan}"
    );
}

/// The claim's plan is made once per connection, whenever it first runs after the tables'
/// statistics changed: often right after the table keeper vacuumed an empty queue (cut to
/// no pages). Made then, it scanned the whole queue at every later claim, comparing each
/// row with each attempt picked. The store runs it without sequential scans, so the plan
/// it keeps reads the queue by its index and TIDs whenever it was made.
#[tokio::test]
async fn the_claim_plan_made_on_an_empty_queue_still_reads_it_by_index() {
    let (cluster, _) = one_finished_task().await;
    let client = cluster.store.client().await.unwrap();
    client
        .batch_execute("vacuum pgdag.task_queue")
        .await
        .unwrap();
    let claimed = pgdag::store::queue::claim(&client, &["nobody".into()], 12, 12, "test", 0)
        .await
        .unwrap();
    assert!(claimed.is_empty());
    // The plan this connection made for the claim just now, without new statistics since.
    let name: String = client
        .query_one(
            "select name from pg_prepared_statements where statement = $1",
            &[&include_str!("../../sql/queries/queue/claim.sql")],
        )
        .await
        .unwrap()
        .get(0);
    let plan = explain(
        &client,
        &format!("explain (costs off) execute {name}('{{nobody}}', 12, 'test', 0, 12)"),
    )
    .await;
    assert!(
        plan.contains("Tid Scan on task_queue")
            && plan.contains("Index Scan using task_queue_claim_kind"),
        "{plan}"
    );
    assert!(
        !plan.contains("Seq Scan"),
        "the claim's plan made on an empty queue scans a whole table:\n{plan}"
    );
}

/// Workflow `t/w`: `n` shell tasks `true`, each after the one before when `chained`.
fn shell_tasks(n: usize, chained: bool) -> String {
    let mut yaml = String::from("project: t\nname: w\ntasks:\n");
    for i in 0..n {
        let after = if chained && i > 0 {
            format!(", depends_on: [t{}]", i - 1)
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'true'{after} }}\n"
        ));
    }
    yaml
}

/// All roles behind the counting proxy, `max_tasks` process slots and no poll within the
/// run (what claims or evaluates is a notification, a freed slot or a wake-up in process):
/// one run of `yaml`'s workflow `t/w` to its success, then the roles stop.
async fn run_without_polls(yaml: String, max_tasks: usize) -> Arc<Mutex<Traffic>> {
    let db = TestDb::new().await;
    let (mut config, url, traffic) = proxied(&db).await;
    config.poll_interval = pgdag::model::Duration::from_secs(600);
    config.max_tasks = max_tasks;
    let running = server::start(config, &Role::ALL)
        .await
        .expect("roles start");
    let store = Store::connect(&url, "pgdag:test", 2).unwrap();
    harness::apply(&store, &yaml).await;
    let id = harness::run(&store, "t/w", serde_json::json!({})).await;
    let detail = harness::wait_final(&store, id, Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded");
    running.stop().await;
    traffic
}

/// A fan-out of shell tasks on a worker that listens: every freed slot used to send a claim
/// for `sql`-like attempts too (one statement claims both kinds), though none was ever
/// queued. Such a claim now goes only when a `pgdag_task` came since the last one that
/// found none: at the start, after the listener connects, after the fan-out is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_of_shell_tasks_claims_in_process_work_only_when_told_of_it() {
    const TASKS: usize = 24;
    let traffic = run_without_polls(shell_tasks(TASKS, false), 2).await;

    // Copied out: an assertion failing under the lock would poison it for the proxy.
    let claims = {
        let t = traffic.lock().unwrap();
        t.binds
            .iter()
            .find(|(text, _)| text.contains("that run in process, each kind"))
            .map(|(_, runs)| runs.clone())
            .expect("the claim ran")
    };
    // $2: process attempts wanted; $5: in-process attempts wanted (int8, binary).
    let wanted = |values: &Vec<Option<Vec<u8>>>, i: usize| {
        i64::from_be_bytes(values[i].as_ref().unwrap()[..8].try_into().unwrap())
    };
    let process_claims = claims.iter().filter(|v| wanted(v, 1) > 0).count();
    let in_process_claims = claims.iter().filter(|v| wanted(v, 4) > 0).count();
    println!(
        "{} claims: {process_claims} for processes, {in_process_claims} in process",
        claims.len()
    );
    assert!(
        process_claims >= TASKS / 12,
        "the shell tasks were claimed by this statement"
    );
    assert!(
        in_process_claims <= 4,
        "in-process claims only after a notice: {in_process_claims} of {} claims",
        claims.len()
    );
}

/// A process that runs both a master and a worker wakes its own evaluator after writing an
/// outcome, and its own fetcher after queueing the next attempt, without waiting for its
/// notifications to come back from the server; those, marked as its own, are left to the
/// other processes and dropped by its listener, so no loop runs twice for one commit.
/// With no poll within the run, a chain that ends shows the wake-ups in process; one claim
/// of each kind per hop shows that the returning notifications woke nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_in_one_process_wakes_its_own_loops_once_per_hop() {
    const TASKS: usize = 8;
    let traffic = run_without_polls(shell_tasks(TASKS, true), 4).await;

    let claim_eval = include_str!("../../sql/queries/instances/claim_eval.sql");
    let (evaluations, claims) = {
        let t = traffic.lock().unwrap();
        let runs = |text: &str| t.binds.get(text).map_or(0, Vec::len);
        let claim = t
            .binds
            .keys()
            .find(|text| text.contains("that run in process, each kind"))
            .expect("the claim ran")
            .clone();
        (runs(claim_eval), runs(&claim))
    };
    println!("{evaluations} claims for evaluation, {claims} claims of attempts");
    // One a hop, and the rounds each loop runs at its start and when the listener
    // connects (ten each here); nearly twice as many if the notifications woke them too.
    assert!(
        evaluations <= TASKS + 3,
        "{evaluations} evaluator claims for a chain of {TASKS}"
    );
    assert!(
        claims <= TASKS + 3,
        "{claims} claims of attempts for a chain of {TASKS}"
    );
}

/// The check made after a leaf of a fan-out ends ("does the instance have an open task?")
/// finds the answer in the newest rows, not after every finished one.
#[tokio::test]
async fn the_open_task_check_reads_the_newest_tasks_first() {
    let (cluster, id) = one_finished_task().await;
    let client = cluster.store.client().await.unwrap();
    // 2,000 finished copies of the task, then one still queued: a fan-out near its end.
    client
        .batch_execute(
            "insert into pgdag.task_instance
                 (workflow_instance_id, task_code, task_version, name, task_type, state, attempt)
             select t.workflow_instance_id, t.task_code, t.task_version, 'b' || g, 'shell',
                    case when g = 2001 then 'queued' else 'succeeded' end, 1
             from (select * from pgdag.task_instance order by id limit 1) t,
                  generate_series(1, 2001) g
             order by g;
             analyze pgdag.task_instance;",
        )
        .await
        .unwrap();
    let plan = generic_plan(
        &client,
        include_str!("../../sql/queries/instances/quick_check.sql"),
        "bigint",
        "(analyze, costs off, format json)",
        &id.to_string(),
    )
    .await;
    let open = pgdag::store::instances::has_unfinished_tasks(&client, id)
        .await
        .unwrap();
    assert!(open, "the queued task is open");
    let removed: i64 = plan
        .split("\"Rows Removed by Filter\":")
        .skip(1)
        .map(|rest| {
            rest.trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    assert!(
        removed < 10,
        "{removed} finished tasks read before the open one: {plan}"
    );
}

/// Where the server runs without autovacuum (as this project's test Postgres does), the
/// master vacuums and analyzes its hot tables once a thousand attempts have ended: their
/// dead rows go, and the plans each connection made once are made again for the tables as
/// they are. With autovacuum on, it leaves them to autovacuum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_autovacuum_the_master_keeps_its_hot_tables_after_a_thousand_attempts() {
    let tasks = pgdag::master::keeper::CHECK_EVERY as usize;
    let db = TestDb::new().await;
    let mut config = db.config();
    config.max_tasks = 8;
    let running = server::start(config, &Role::ALL)
        .await
        .expect("roles start");
    let rounds = running.wakeups.rounds.clone();
    let mark = rounds.mark(pgdag::service::rounds::KEEPER);
    let mut yaml = String::from("project: t\nname: fan\ntasks:\n");
    for i in 0..tasks {
        yaml.push_str(&format!(
            "  - {{ name: t{i}, type: shell, script: 'true' }}\n"
        ));
    }
    harness::apply(&running.store, &yaml).await;
    let id = harness::run(&running.store, "t/fan", serde_json::json!({})).await;
    let detail = harness::wait_final(&running.store, id, Duration::from_secs(300)).await;
    assert_eq!(detail.state, "succeeded");
    // A connection of the test's own: one held from the roles' pool while polling could be
    // the one the keeper waits for.
    let store = db.store();
    let client = store.client().await.unwrap();
    let autovacuum: String = client
        .query_one("show autovacuum", &[])
        .await
        .unwrap()
        .get(0);
    let kept = || async {
        client
            .query(
                "select relname::text, last_vacuum is not null, last_analyze is not null
                 from pg_stat_user_tables
                 where schemaname = 'pgdag' and relname in ('task_queue', 'instance_event', 'task_instance')
                 order by relname",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect::<Vec<(String, bool, bool)>>()
    };
    if autovacuum == "off" {
        // The keeper's round runs once the evaluator has seen the thousandth attempt end,
        // which may be just after the instance is seen final: polled until done.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let kept = kept().await;
            // Each had a thousand rows deleted or updated: past autovacuum's own rule.
            if kept.len() == 3
                && kept
                    .iter()
                    .all(|(_, vacuumed, analyzed)| *vacuumed && *analyzed)
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the hot tables vacuumed and analyzed: {kept:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        assert!(
            rounds
                .wait_past(
                    pgdag::service::rounds::KEEPER,
                    mark,
                    Duration::from_secs(60)
                )
                .await,
            "the table keeper ran a round after the {tasks}th attempt ended"
        );
        for (table, vacuumed, _) in &kept().await {
            assert!(!*vacuumed, "{table} left to autovacuum");
        }
    }
    running.stop().await;
}

/// A worker's outcome "succeeded, exit code 0" for attempt `task_instance_id`.
fn succeeded(task_instance_id: i64, claim_token: uuid::Uuid) -> pgdag::store::queue::Completion {
    pgdag::store::queue::Completion {
        task_instance_id,
        claim_token,
        outcome: "succeeded",
        exit_code: Some(0),
        out_params: serde_json::json!({}),
        error: None,
        result: None,
        usage: None,
        ran_us: Some(1_000),
    }
}

/// The shipper's flush of output alone commits without waiting for the WAL flush (`set
/// local synchronous_commit = off` in its transaction): nothing acts on log lines, and the
/// outcome's durable commit makes them durable. A flush with an outcome waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_of_output_alone_commits_lazily_and_one_with_an_outcome_durably() {
    use pgdag::store::queue::{self, LogChunk};
    let db = TestDb::new().await;
    let (_, url, traffic) = proxied(&db).await;
    let store = Store::connect(&url, "pgdag:test", 1).unwrap();
    let lazy_commits = |traffic: &Mutex<Traffic>| {
        traffic
            .lock()
            .unwrap()
            .simple
            .iter()
            .filter(|q| q.contains("synchronous_commit = off"))
            .count()
    };
    let chunk = LogChunk {
        task_instance_id: 1,
        claim_token: uuid::Uuid::nil(),
        seq: 0,
        text: "a line\n".into(),
    };
    let mut client = store.client().await.unwrap();
    queue::flush(
        &mut client,
        &[],
        std::slice::from_ref(&chunk),
        &[],
        &[],
        None,
        "",
    )
    .await
    .unwrap();
    assert_eq!(lazy_commits(&traffic), 1, "output alone commits lazily");
    let outcome = succeeded(1, uuid::Uuid::nil());
    queue::flush(&mut client, &[], &[chunk], &[], &[outcome], None, "")
        .await
        .unwrap();
    assert_eq!(
        lazy_commits(&traffic),
        1,
        "a flush with an outcome commits durably"
    );
    drop(client);
    store.pool.close();
}

/// `n` attempts of the default worker group, claimed through the worker's own claim as the
/// master queues them (a bounded poll: 60 s at most).
async fn claim_queued(
    client: &impl pgdag::store::db::Conn,
    n: usize,
) -> Vec<pgdag::store::queue::ClaimedTask> {
    let groups = vec!["default".to_string()];
    let mut claimed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while claimed.len() < n {
        assert!(
            Instant::now() < deadline,
            "{n} attempts queued: {claimed:?}"
        );
        claimed.extend(
            pgdag::store::queue::claim(client, &groups, n as i64, n as i64, "test-host", 1)
                .await
                .unwrap(),
        );
        if claimed.len() < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    claimed
}

/// A flush of several outcomes of one instance writes one evaluation event for them, with
/// the ended attempts' ids (V25), not one event row per attempt: the rows were inserted into
/// three indexes only for the evaluation to delete them at once. Seen by a statement trigger
/// on the event table; the attempts are claimed and completed through the worker's own
/// statements, with a master queueing them and consuming the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_of_outcomes_writes_one_event_per_instance() {
    use pgdag::store::queue::{self, Completion};
    let cluster = harness::TestCluster::start_with(&[Role::Master], |_| {}).await;
    cluster
        .apply(
            "project: t\nname: three\ntasks:\n  - { name: a, type: shell, script: 'true' }\n  - { name: b, type: shell, script: 'true' }\n  - { name: c, type: shell, script: 'true' }\n",
        )
        .await;
    let client = cluster.store.client().await.unwrap();
    client
        .batch_execute(
            "create table public.event_inserts (event_rows bigint, ended bigint);
             create function public.count_event_inserts() returns trigger language plpgsql as $$
             begin
                 insert into public.event_inserts
                 select count(*), coalesce(sum(cardinality(ended_tasks)), 0) from inserted;
                 return null;
             end $$;
             create trigger count_event_inserts after insert on pgdag.instance_event
                 referencing new table as inserted for each statement
                 execute function public.count_event_inserts();",
        )
        .await
        .unwrap();
    let id = cluster.run("t/three", serde_json::json!({})).await;
    let claimed = claim_queued(&client, 3).await;
    client
        .execute("truncate public.event_inserts", &[])
        .await
        .unwrap();
    let outcomes: Vec<Completion> = claimed
        .iter()
        .map(|t| succeeded(t.id, t.claim_token))
        .collect();
    let mut flusher = cluster.store.client().await.unwrap();
    let report = queue::flush(&mut flusher, &[], &[], &[], &outcomes, None, "")
        .await
        .unwrap();
    assert_eq!(report.completed, 3);
    let inserts: Vec<(i64, i64)> = client
        .query("select event_rows, ended from public.event_inserts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        inserts,
        vec![(1, 3)],
        "one event row with the three ended attempts"
    );
    assert_eq!(cluster.wait_final(id).await.state, "succeeded");
}

/// The log chunks of an attempt whose outcome is in the same flush are written by the
/// outcome's own statement, and only when the outcome holds: the same flush sent again (its
/// commit not seen) writes no chunk twice, and the chunks of a stale claim are not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcomes_log_chunks_are_written_once_and_only_with_a_claim_that_holds() {
    use pgdag::store::queue::{self, LogChunk};
    let cluster = harness::TestCluster::start_with(&[Role::Master], |_| {}).await;
    cluster
        .apply(
            "project: t\nname: two\ntasks:\n  - { name: a, type: shell, script: 'true' }\n  - { name: b, type: shell, script: 'true' }\n",
        )
        .await;
    let client = cluster.store.client().await.unwrap();
    cluster.run("t/two", serde_json::json!({})).await;
    let claimed = claim_queued(&client, 2).await;
    let (held, stale) = (&claimed[0], &claimed[1]);
    let stale_token = uuid::Uuid::new_v4();
    let chunk = |id: i64, claim_token, seq: i32| LogChunk {
        task_instance_id: id,
        claim_token,
        seq,
        text: format!("chunk {seq} of {id}\n"),
    };
    let logs = vec![
        chunk(held.id, held.claim_token, held.next_seq),
        chunk(held.id, held.claim_token, held.next_seq + 1),
        chunk(stale.id, stale_token, stale.next_seq),
    ];
    let outcomes = vec![
        succeeded(held.id, held.claim_token),
        succeeded(stale.id, stale_token),
    ];
    let mut flusher = cluster.store.client().await.unwrap();
    let first = queue::flush(&mut flusher, &[], &logs, &[], &outcomes, None, "")
        .await
        .unwrap();
    assert_eq!(
        (first.completed, first.log_chunks, first.rejected),
        (1, 2, 2),
        "the held claim's outcome and two chunks; the stale claim's outcome and chunk rejected"
    );
    let again = queue::flush(&mut flusher, &[], &logs, &[], &outcomes, None, "")
        .await
        .unwrap();
    assert_eq!(
        (again.completed, again.log_chunks, again.rejected),
        (0, 0, 5),
        "the same flush again writes nothing"
    );
    let written: Vec<(i64, i32, String)> = client
        .query(
            "select task_instance_id, seq, text from pgdag.task_log \
             where task_instance_id = any($1) and text like 'chunk %' order by task_instance_id, seq",
            &[&vec![held.id, stale.id]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        written,
        vec![
            (
                held.id,
                held.next_seq,
                format!("chunk {} of {}\n", held.next_seq, held.id)
            ),
            (
                held.id,
                held.next_seq + 1,
                format!("chunk {} of {}\n", held.next_seq + 1, held.id)
            ),
        ],
        "each chunk of the held claim once, none of the stale one"
    );
}

/// `pgdag run --wait` follows its instance by the instance's head and its tasks in brief
/// (id, name, state), never their full rows (outputs, results: about 2 MiB a read for a
/// 10,000-task instance, five reads a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_follows_the_tasks_in_brief_not_their_full_rows() {
    let db = TestDb::new().await;
    let running = server::start(db.config(), &Role::ALL)
        .await
        .expect("roles start");
    harness::apply(
        &running.store,
        "project: t\nname: followed\ntasks:\n  - { name: a, type: shell, script: 'echo a' }\n  - { name: b, type: shell, script: 'echo b', depends_on: [a] }\n",
    )
    .await;
    let (port, traffic) = proxy(through_proxy(&db.url, 0).1).await;
    let (url, _) = through_proxy(&db.url, port);
    let mut run = harness::pgdag(&db);
    run.env("PGDAG_DATABASE_URL", &url)
        .args(["run", "t/followed", "--wait"]);
    let out = tokio::task::spawn_blocking(move || run.output().expect("run pgdag"))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("succeeded"), "{stderr}");
    running.stop().await;
    let t = traffic.lock().unwrap();
    let ran: Vec<&String> = t.binds.keys().collect();
    assert!(
        ran.iter()
            .any(|q| q.contains("select t.id, t.task_code, t.name, t.state")),
        "the tasks read in brief: {ran:?}"
    );
    assert!(
        !ran.iter()
            .any(|q| q.contains("t.out_params, t.error, t.result")),
        "the full task rows never read: {ran:?}"
    );
}

/// `ANALYZE` (autovacuum's or the table keeper's) leaves out the wide columns no statement
/// filters on — payloads, outputs, results, errors — and keeps the ones plans read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_skips_the_payload_and_result_columns_no_plan_reads() {
    let cluster = harness::TestCluster::start().await;
    harness::apply(
        &cluster.store,
        "project: t\nname: wide\ntasks:\n  - { name: a, type: shell, script: 'echo a' }\n  - { name: b, type: shell, script: 'exit 3', depends_on: [a] }\n",
    )
    .await;
    let id = harness::run(&cluster.store, "t/wide", serde_json::json!({"p": "v"})).await;
    let detail = harness::wait_final(&cluster.store, id, Duration::from_secs(60)).await;
    assert_eq!(detail.state, "failed");
    let client = cluster.store.client().await.unwrap();
    client
        .batch_execute("analyze pgdag.task_instance; analyze pgdag.workflow_instance")
        .await
        .unwrap();
    let with_statistics: HashSet<String> = client
        .query(
            "select tablename || '.' || attname from pg_stats where schemaname = 'pgdag'
             and tablename in ('task_instance', 'workflow_instance')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for column in [
        "task_instance.payload",
        "task_instance.out_params",
        "task_instance.result",
        "task_instance.error",
        "task_instance.branch",
        "workflow_instance.params",
        "workflow_instance.error",
    ] {
        assert!(
            !with_statistics.contains(column),
            "{column} has statistics: {with_statistics:?}"
        );
    }
    for column in [
        "task_instance.state",
        "task_instance.workflow_instance_id",
        "workflow_instance.state",
    ] {
        assert!(
            with_statistics.contains(column),
            "{column} has statistics: {with_statistics:?}"
        );
    }
}

/// Every column of `task_instance` has a statistics target of at most 10 (V26), so that
/// `ANALYZE` samples 3,000 rows, not 30,000: the sample is 300 rows per unit of the
/// largest target, and one column left at the default brings the whole cost back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_rows_are_analyzed_from_a_small_sample() {
    let db = TestDb::new().await;
    let store = db.store();
    store.migrate().await.unwrap();
    let client = store.client().await.unwrap();
    let large: Vec<(String, i32)> = client
        .query(
            "select attname::text, coalesce(nullif(attstattarget, -1),
                    current_setting('default_statistics_target')::int)
             from pg_attribute
             where attrelid = 'pgdag.task_instance'::regclass and attnum > 0 and not attisdropped",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .filter(|(_, target): &(String, i32)| *target > 10)
        .collect();
    assert_eq!(large, vec![], "columns sampled at a larger target");
}

/// An attempt that ends within RUNNING_MARK_AFTER (100 ms) writes no `running` mark (its
/// outcome sets `started_at`); one that runs longer is marked, with `started_at` at its
/// start, not at the mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_attempt_is_marked_running_from_its_start() {
    let cluster = harness::TestCluster::start().await;
    harness::apply(
        &cluster.store,
        "project: t\nname: marks\ntasks:\n  - { name: long, type: shell, script: 'sleep 0.6' }\n  - { name: quick, type: shell, script: 'true', depends_on: [long] }\n",
    )
    .await;
    let id = harness::run(&cluster.store, "t/marks", serde_json::json!({})).await;
    let detail = harness::wait_final(&cluster.store, id, Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded");
    let client = cluster.store.client().await.unwrap();
    let timing = |name: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(
                    "select (extract(epoch from ended_at - started_at) * 1000)::float8,
                            (extract(epoch from started_at - dispatched_at) * 1000)::float8
                     from pgdag.task_instance where workflow_instance_id = $1 and name = $2",
                    &[&id, &name],
                )
                .await
                .unwrap();
            (row.get::<_, f64>(0), row.get::<_, f64>(1))
        }
    };
    let (ran_ms, late_ms) = timing("long").await;
    assert!(
        ran_ms >= 600.0,
        "the long attempt ran {ran_ms} ms by its row (started {late_ms} ms after its claim)"
    );
    assert!(
        late_ms < RUNNING_MARK_AFTER_MS,
        "started_at is {late_ms} ms after the claim: the mark's time, not the start's"
    );
    let (ran_ms, late_ms) = timing("quick").await;
    assert!(
        ran_ms >= 0.0 && late_ms >= 0.0,
        "the quick attempt's started_at lies between its claim and its end ({late_ms}, {ran_ms} ms)"
    );
}

/// `worker::executor`'s RUNNING_MARK_AFTER, in milliseconds.
const RUNNING_MARK_AFTER_MS: f64 = 100.0;
