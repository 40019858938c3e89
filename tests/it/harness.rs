//! Test support: a fresh database per test, cloned from a migrated template; in-process
//! roles on port 0; the real binary for process-level tests; typed helpers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgdag::clock::Clock;
use pgdag::config::Config;
use pgdag::model::{CommandType, Duration as PgDuration};
use pgdag::server::{self, Role};
use pgdag::store::{self, Store, commands, definitions, instances};
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TEMPLATE_LOCK: i64 = 0x7067_6461_675f_7470;

fn base_url() -> String {
    std::env::var("PGDAG_TEST_ADMIN_URL").unwrap_or_else(|_| ADMIN_URL.to_string())
}

fn url_for(db: &str) -> String {
    let base = base_url();
    let cut = base.rfind('/').expect("admin URL has a database part");
    format!("{}/{db}", &base[..cut])
}

/// The template's name changes whenever a migration changes.
fn template_name() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql/migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        hasher.update(std::fs::read(f).unwrap());
    }
    format!("pgdag_template_{}", &hex::encode(hasher.finalize())[..12])
}

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&base_url(), NoTls)
        .await
        .expect("connect to Postgres");
    tokio::spawn(connection);
    client
}

pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let template = template_name();
        let client = admin().await;
        client
            .execute("select pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
            .await
            .unwrap();
        let exists = client
            .query_opt("select 1 from pg_database where datname = $1", &[&template])
            .await
            .unwrap()
            .is_some();
        if !exists {
            let building = format!("{template}_building");
            client
                .batch_execute(&format!("drop database if exists {building} with (force)"))
                .await
                .unwrap();
            client
                .batch_execute(&format!("create database {building}"))
                .await
                .unwrap();
            let store = Store::connect(&url_for(&building), "pgdag:test-template", 1).unwrap();
            store.migrate().await.expect("migrations run");
            store.pool.close();
            drop(store);
            client
                .batch_execute(&format!("alter database {building} rename to {template}"))
                .await
                .unwrap();
        }
        client
            .execute("select pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
            .await
            .unwrap();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("create database {name} template {template}"))
            .await
            .unwrap();
        TestDb {
            url: url_for(&name),
            name,
        }
    }

    /// A database name that does not exist yet (for commands that must create it).
    pub fn unborn() -> TestDb {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        TestDb {
            url: url_for(&name),
            name,
        }
    }

    pub fn store(&self) -> Store {
        Store::connect(&self.url, "pgdag:test", 4).unwrap()
    }

    pub fn config(&self) -> Config {
        let mut config = Config::from_env().unwrap();
        config.database_url = self.url.clone();
        config.http_addr = "127.0.0.1:0".parse().unwrap();
        config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        config.poll_interval = PgDuration::from_millis(200);
        config.heartbeat_interval = PgDuration::from_millis(500);
        config.dead_after = PgDuration::from_secs(4);
        config.max_tasks = 4;
        config.worker_groups = vec!["default".into()];
        config
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop from a thread of its own: Drop cannot await, and the test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = admin().await;
                let _ = client
                    .batch_execute(&format!("drop database if exists {name} with (force)"))
                    .await;
            });
        })
        .join();
    }
}

/// Roles running in this test process.
pub struct TestCluster {
    pub db: TestDb,
    pub store: Store,
    pub running: Option<server::Running>,
}

impl TestCluster {
    pub async fn start() -> TestCluster {
        Self::start_with(&Role::ALL, |_| {}).await
    }

    pub async fn start_with(roles: &[Role], tweak: impl FnOnce(&mut Config)) -> TestCluster {
        let db = TestDb::new().await;
        let mut config = db.config();
        tweak(&mut config);
        let running = server::start(config, roles).await.expect("roles start");
        TestCluster {
            store: db.store(),
            db,
            running: Some(running),
        }
    }

    pub fn api(&self) -> SocketAddr {
        self.running
            .as_ref()
            .and_then(|r| r.api_addr)
            .expect("api role running")
    }

    /// A new admin user `name` (who may do anything) and an API token for it.
    pub async fn api_token(&self, name: &str) -> String {
        let client = self.store.client().await.unwrap();
        pgdag::store::users::add(&client, name, None, true)
            .await
            .unwrap();
        pgdag::store::users::create_token(&client, name, None, None)
            .await
            .unwrap()
            .token
    }

    pub async fn apply(&self, yaml: &str) -> Vec<definitions::Applied> {
        apply(&self.store, yaml).await
    }

    pub async fn run(&self, target: &str, params: serde_json::Value) -> i64 {
        run(&self.store, target, params).await
    }

    pub async fn wait_final(&self, id: i64) -> instances::InstanceDetail {
        wait_final(&self.store, id, Duration::from_secs(60)).await
    }

    /// `GET http://<api>/api/v1<path>` with a bearer token: the JSON body.
    pub async fn get_api(&self, token: &str, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("http://{}/api/v1{path}", self.api()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The instance with its tasks, as `GET /api/v1/instances/{id}` shows it.
    pub async fn detail(&self, id: i64) -> instances::InstanceDetail {
        let client = self.store.client().await.unwrap();
        instances::get(&client, id).await.unwrap().unwrap()
    }

    /// Poll the instance every 50 ms until `done` holds; panics naming `what`, with the
    /// last detail, after 60 s.
    pub async fn wait_for(
        &self,
        id: i64,
        what: &str,
        done: impl Fn(&instances::InstanceDetail) -> bool,
    ) -> instances::InstanceDetail {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let d = self.detail(id).await;
            if done(&d) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "instance {id}: {what} did not happen: {d:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Roles whose clock stands still at `at` (a whole day ahead of the database's is a
    /// good start: the database's own clock never catches up within a test), with the
    /// clock to move.
    pub async fn start_at(at: chrono::DateTime<chrono::Utc>) -> (TestCluster, Clock) {
        let clock = Clock::fixed(at);
        let roles_clock = clock.clone();
        let cluster = Self::start_with(&Role::ALL, move |c| c.clock = roles_clock).await;
        (cluster, clock)
    }

    fn running(&self) -> &server::Running {
        self.running.as_ref().expect("roles running")
    }

    /// Move the roles' clock and wake every loop, so that what became due is seen now.
    pub fn advance(&self, clock: &Clock, by: Duration) {
        clock.advance(by);
        self.running().wakeups.all();
    }

    /// Wait until a whole round of loop `name` (`pgdag::service::rounds::EVALUATOR`...)
    /// that started after this call has completed: what it would have done is done.
    pub async fn next_round(&self, name: &'static str) {
        let rounds = &self.running().wakeups.rounds;
        let mark = rounds.mark(name);
        self.running().wakeups.all();
        assert!(
            rounds.wait_past(name, mark, Duration::from_secs(30)).await,
            "no {name} round completed within 30 s"
        );
    }
}

/// A whole hour a day ahead of the database's clock: a test clock's start.
pub fn tomorrow() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    (chrono::Utc::now() + chrono::Duration::days(1))
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap()
}

pub async fn apply(store: &Store, yaml: &str) -> Vec<definitions::Applied> {
    let checked = pgdag::apply::check_documents("test.yaml", yaml).unwrap_or_else(|errors| {
        panic!(
            "test YAML is invalid: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    let mut client = store.client().await.unwrap();
    definitions::apply_documents(
        &mut client,
        "cli:test",
        &checked.workflows,
        &checked.task_groups,
        &checked.sealed_datasources(secret_key().as_ref()).unwrap(),
        &checked.sealed_alert_groups(secret_key().as_ref()).unwrap(),
        &checked.tenants,
        &checked.schedules,
        &pgdag::store::project_values::ProjectValues {
            variables: &checked.variables,
            secrets: &checked.sealed_secrets(secret_key().as_ref()).unwrap(),
        },
    )
    .await
    .unwrap()
}

pub async fn run(store: &Store, target: &str, params: serde_json::Value) -> i64 {
    let (project, workflow) = target.split_once('/').unwrap();
    let client = store.client().await.unwrap();
    let (_, id) = commands::insert(
        &client,
        "cli:test",
        CommandType::Start,
        Some(project),
        Some(workflow),
        &params,
        &serde_json::json!({}),
        None,
    )
    .await
    .unwrap();
    id
}

/// Poll until the instance is in a final state; panics after `timeout`.
pub async fn wait_final(store: &Store, id: i64, timeout: Duration) -> instances::InstanceDetail {
    let deadline = Instant::now() + timeout;
    loop {
        let client = store.client().await.unwrap();
        if let Some(detail) = instances::get(&client, id).await.unwrap() {
            let state: pgdag::model::WorkflowState = detail.state.parse().unwrap();
            if state.is_final() {
                return detail;
            }
        }
        drop(client);
        assert!(
            Instant::now() < deadline,
            "instance {id} did not finish within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn task<'a>(detail: &'a instances::InstanceDetail, name: &str) -> &'a instances::TaskDetail {
    detail
        .tasks
        .as_ref()
        .unwrap()
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name} in instance {}", detail.id))
}

/// Task rows and log rows of the task instances `ids` still in the database: what a
/// deletion must leave none of (no foreign key cascades to them: V24).
pub async fn task_and_log_rows(client: &tokio_postgres::Client, ids: &[i64]) -> i64 {
    client
        .query_one(
            "select (select count(*) from pgdag.task_instance where id = any($1))
                  + (select count(*) from pgdag.task_log where task_instance_id = any($1))",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0)
}

pub async fn log_text(store: &Store, task_instance_id: i64) -> String {
    let client = store.client().await.unwrap();
    store::logs::read(&client, task_instance_id, 0, 100_000)
        .await
        .unwrap()
        .text
}

/// The real `pgdag` binary.
pub fn pgdag_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pgdag"))
}

pub fn pgdag(db: &TestDb) -> Command {
    let mut command = Command::new(pgdag_bin());
    command
        .env("PGDAG_DATABASE_URL", &db.url)
        .env("PGDAG_HTTP_ADDR", "127.0.0.1:0")
        .env("PGDAG_METRICS_ADDR", "127.0.0.1:0")
        .env("PGDAG_POLL_INTERVAL", "200ms")
        .env("PGDAG_LOG", "pgdag=info,warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// A child process killed when the guard drops, so a failing test leaves nothing running.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn(mut command: Command) -> ChildGuard {
    ChildGuard(
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pgdag"),
    )
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The key tests encrypt stored datasource passwords with.
pub const SECRET_KEY: &str = "pgdag-test-secret-key-0123456789";

pub fn secret_key() -> Option<pgdag::secret::SecretKey> {
    Some(pgdag::secret::SecretKey::new(SECRET_KEY).unwrap())
}
