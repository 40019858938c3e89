//! All SQL access. Queries live in `sql/queries/<area>/<name>.sql`, one per file, and are
//! run by one typed function each in the module of their area, through the one helper in
//! `db` (prepared once per connection, counted, errors mapped). Nothing outside this module
//! writes SQL text; `sql` and `procedure` tasks run their users' SQL on other databases.

pub mod alerts;
pub mod audit;
pub mod audited;
pub mod backfills;
pub mod channel;
pub mod clients;
pub mod cluster;
pub mod commands;
pub mod datasources;
pub mod db;
pub mod definitions;
pub mod hooks;
pub mod instances;
pub mod logs;
pub mod maintenance;
pub mod mapped;
pub mod master_tasks;
pub mod members;
pub mod project_values;
pub mod queue;
pub mod schedules;
pub mod servers;
pub mod sessions;
pub mod task_groups;
pub mod tenants;
pub mod triggers;
pub mod users;

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use db::{Conn, Session, query};

pub use channel::Channel;

mod embedded {
    refinery::embed_migrations!("sql/migrations");
}

/// Advisory lock key under which migrations run, so two processes cannot migrate at once.
const MIGRATION_LOCK_KEY: i64 = 0x7067_6461_675f_6d67; // "pgdag_mg"

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {}", chain(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("database: {}", chain(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("migration: {0}")]
    Migration(String),
}

/// What a database error means to the store's callers. Decided here, once, from the
/// `SqlState` (never from message text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// The database could not be reached, or the connection broke.
    Unavailable,
    /// A unique constraint refused the row: it exists already.
    UniqueViolation,
    /// A foreign key refused the row: what it refers to is gone.
    ForeignKeyViolation,
    /// A serialization failure or a deadlock: the transaction may simply be run again.
    Retry,
    /// The database does not exist.
    NoDatabase,
    Other,
}

impl StoreError {
    /// True when the database could not be reached (the API answers 503 then).
    pub fn is_unavailable(&self) -> bool {
        self.failure() == Some(DbFailure::Unavailable)
    }
    /// The meaning of a database error; None for the store's own errors.
    pub fn failure(&self) -> Option<DbFailure> {
        let e = match self {
            StoreError::Pool(_) => return Some(DbFailure::Unavailable),
            StoreError::Db(e) => e,
            _ => return None,
        };
        if e.is_closed() {
            return Some(DbFailure::Unavailable);
        }
        let Some(code) = e.code() else {
            // No server error: an I/O failure (or a driver-side one, such as a wrong row
            // count, which has always been reported as unavailable too).
            return Some(if e.as_db_error().is_none() {
                DbFailure::Unavailable
            } else {
                DbFailure::Other
            });
        };
        Some(match code {
            c if *c == SqlState::UNIQUE_VIOLATION => DbFailure::UniqueViolation,
            c if *c == SqlState::FOREIGN_KEY_VIOLATION => DbFailure::ForeignKeyViolation,
            c if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                DbFailure::Retry
            }
            c if *c == SqlState::INVALID_CATALOG_NAME => DbFailure::NoDatabase,
            _ => DbFailure::Other,
        })
    }
    pub fn code(&self) -> Option<&SqlState> {
        match self {
            StoreError::Db(e) => e.code(),
            _ => None,
        }
    }
}

/// An error with its causes: tokio-postgres prints only "db error" for the error itself
/// (and lettre, reqwest and others keep the useful part in the causes too).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The `$now` of a time-dependent statement: `None` is the database's `now()`; a test's
/// fixed clock passes an instant (see `crate::clock`). The statements read
/// `greatest($now::timestamptz, now())`.
pub type Now = Option<chrono::DateTime<chrono::Utc>>;

/// A pool of connections to the pgdag database.
#[derive(Clone)]
pub struct Store {
    pub pool: Pool,
    /// For connections a process owns (LISTEN, advisory locks): a session with Postgres,
    /// never a transaction-pooled one.
    pub config: tokio_postgres::Config,
    /// The pool's own connection settings and size, to build it again under another name.
    pool_config: tokio_postgres::Config,
    size: usize,
}

impl Store {
    /// A pool of at most `size` connections, each named `application_name` in pg_stat_activity.
    pub fn connect(url: &str, application_name: &str, size: usize) -> Result<Store> {
        let mut config = pg_config(url)?;
        config.application_name(application_name);
        Self::build(config, size)
    }

    fn build(config: tokio_postgres::Config, size: usize) -> Result<Store> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
                Box::pin(async move {
                    db::plan_once(client)
                        .await
                        .map_err(deadpool_postgres::HookError::Backend)
                })
            }))
            .max_size(size)
            // The connection returned last is handed out first: the few a process keeps
            // busy hold its prepared statements and their plans, made again after every
            // VACUUM or ANALYZE of their tables. Handed out in turn, each of the pool's
            // connections prepared and planned every hot statement again (0.5–2.5 ms a
            // bind of the claim or an outcome after each table keeper's round).
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Invalid(format!("database pool: {e}")))?;
        Ok(Store {
            pool,
            pool_config: config.clone(),
            config,
            size,
        })
    }

    /// The same database under another `application_name`: a new pool (the name is a
    /// startup parameter, which PgBouncer keeps per client) and a session config named the
    /// same. Connections of this store stay as they are and close when it is dropped.
    pub fn named(&self, application_name: &str) -> Result<Store> {
        let mut pool_config = self.pool_config.clone();
        pool_config.application_name(application_name);
        let mut store = Self::build(pool_config, self.size)?;
        store.config = self.config.clone();
        store.config.application_name(application_name);
        Ok(store)
    }

    /// The `application_name` of this store's connections.
    pub fn application_name(&self) -> Option<&str> {
        self.pool_config.get_application_name()
    }

    /// Use another URL for the connections this process owns (LISTEN, the liveness and
    /// leader locks): a direct or session-mode URL when the pool goes through PgBouncer in
    /// transaction mode.
    pub fn with_session_url(mut self, url: &str, application_name: &str) -> Result<Store> {
        let mut config = pg_config(url)?;
        config.application_name(application_name);
        self.config = config;
        Ok(self)
    }

    pub async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// Open a connection outside the pool (lock holders), driving it on a task.
    pub async fn dedicated(&self) -> Result<Session> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "dedicated connection ended");
            }
        });
        Ok(Session::new(client))
    }

    /// Create or upgrade the schema. Idempotent; safe to run from many processes at once.
    pub async fn migrate(&self) -> Result<()> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let driver = tokio::spawn(connection);
        let mut session = Session::new(client);
        session
            .exec(query!("schema/lock"), &[&MIGRATION_LOCK_KEY])
            .await?;
        // refinery's own statements (its history table, the migrations) are not counted.
        let outcome = embedded::migrations::runner()
            .set_migration_table_name("pgdag_schema_history")
            .run_async(session.client_mut())
            .await
            .map_err(|e| StoreError::Migration(e.to_string()));
        let _ = session
            .exec(query!("schema/unlock"), &[&MIGRATION_LOCK_KEY])
            .await;
        drop(session);
        let _ = driver.await;
        outcome.map(|_| ())
    }
}

/// The newest migration this binary carries.
pub fn schema_version_expected() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// The newest migration applied to the database.
pub async fn schema_version(client: &impl db::Conn) -> Result<i64> {
    Ok(client
        .fetch_one(query!("schema/version"), &[])
        .await?
        .get(0))
}

/// Listen on every pgdag channel (on a connection the process owns: a session).
pub async fn listen(session: &Session) -> Result<()> {
    session.exec_simple(&Channel::listen_all()).await
}

pub fn pg_config(url: &str) -> Result<tokio_postgres::Config> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("database URL {url:?}: {e}")))?;
    config.keepalives(true);
    config.keepalives_idle(std::time::Duration::from_secs(10));
    config.connect_timeout(std::time::Duration::from_secs(10));
    Ok(config)
}

/// Create the database named in `url` when it does not exist (connects to `postgres`).
pub async fn ensure_database(url: &str) -> Result<()> {
    let config = pg_config(url)?;
    let name = config.get_dbname().unwrap_or("postgres").to_string();
    match config.connect(NoTls).await {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(e) => return Err(e.into()),
    }
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(NoTls).await?;
    tokio::spawn(connection);
    // An identifier cannot be a parameter: the one statement built from text, quoted.
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match Session::new(client)
        .exec_simple(&format!("create database {quoted}"))
        .await
    {
        Ok(()) => Ok(()),
        // Another process created it at the same moment.
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(e),
    }
}
