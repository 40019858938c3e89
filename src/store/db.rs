//! The one way the store runs a statement.
//!
//! Every statement is a [`Query`]: a file of `sql/queries/<area>/<name>.sql`, named by the
//! `query!("area/name")` macro at the one call site that runs it. The methods of [`Conn`]
//! (`fetch`, `fetch_one`, `fetch_opt`, `exec`) prepare the statement once per connection,
//! count it in `pgdag_queries_total` and turn a driver error into a [`StoreError`]; nothing
//! else in pgdag calls the driver's `query`/`execute`, so the counter cannot drift from what
//! is run.
//!
//! Two kinds of connection run statements:
//! - pooled clients and their transactions (`deadpool_postgres::GenericClient`), whose
//!   statement cache lives with the connection and so outlives its returns to the pool;
//! - [`Session`]: a connection a process owns (advisory locks, heartbeat, LISTEN), with a
//!   statement cache of its own.
//!
//! Preparing happens in [`Conn::prepared`] only. A process whose pool goes through
//! PgBouncer before 1.21 in transaction mode must not keep named statements across
//! transactions: after [`use_unnamed_statements`], pooled connections run each statement as
//! the unnamed one ([`Prepared::Unnamed`]); sessions keep theirs.
//!
//! Plans are made once per statement and connection: pooled connections run with
//! `plan_cache_mode = force_generic_plan` (set by [`plan_once`] when the pool opens them).
//! Left to itself, Postgres planned the hot statements (the claim, an outcome, an
//! evaluation's) again at every execution, because their array and `limit` parameters made
//! the generic plan look dearer than a custom one: half a millisecond and more per bind,
//! most of a chain's hop. They also run without JIT (see [`SESSION_SETTINGS`]). Statements whose best plan does depend on the values — the lists
//! with optional filters (`$1 is null or ...`), whose first line is [`PLAN_PER_CALL`] — are
//! run with the default mode set around them in the same round trip. A plan made once
//! can also be made at a bad moment: the queue's claim, planned while `task_queue` was
//! nearly empty (as the table keeper's `VACUUM` leaves it, cut to no pages), scanned the
//! whole queue at every later claim, comparing each row with each picked attempt (10 ms of
//! a 35 ms claim of 459). Statements whose first line is [`PLAN_BY_INDEX`] run with
//! `enable_seqscan = off` around them, the same way, so that whenever their plan is made it
//! reads by index or TID. Transaction-mode
//! PgBouncer (unnamed statements) is left alone: a session setting would outlive our turn
//! on its server, and unnamed statements are planned per call anyway.
//!
//! Statements that cannot be prepared — transaction control, `LISTEN`, `CREATE DATABASE`
//! with a quoted identifier — go through [`Conn::exec_simple`], counted the same way; their
//! text lives in `store` too. `BEGIN`/`COMMIT`/savepoints issued by the driver's
//! `transaction()` are not statements of ours and are not counted.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use deadpool_postgres::GenericClient;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Statement};

use super::Result;

/// One statement of `sql/queries`.
#[derive(Debug)]
pub struct Query {
    /// `area/name`: the file's path under `sql/queries`, without `.sql`.
    pub name: &'static str,
    pub text: &'static str,
}

/// The first line of a statement whose plan is made for each call's values (see the
/// module's comment).
pub const PLAN_PER_CALL: &str = "-- plan: per call";
/// The first line of a statement whose one plan must read its tables by index (or TID),
/// whatever their size when it is made (see the module's comment).
pub const PLAN_BY_INDEX: &str = "-- plan: by index";

impl Query {
    /// True when this statement's plan is made for each call's values.
    pub fn plans_per_call(&self) -> bool {
        self.text.starts_with(PLAN_PER_CALL)
    }

    /// The settings sent before and after each run of this statement on a connection that
    /// plans once, in the same round trip; `None` for most statements.
    fn plan_settings(&self) -> Option<(&'static str, &'static str)> {
        if self.plans_per_call() {
            Some((PLANS_PER_CALL, GENERIC_PLANS))
        } else if self.text.starts_with(PLAN_BY_INDEX) {
            Some((NO_SEQUENTIAL_SCANS, SEQUENTIAL_SCANS))
        } else {
            None
        }
    }
}

/// Set a new pooled connection to make each statement's plan once (see the module's
/// comment); nothing in unnamed mode.
pub async fn plan_once(client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    if unnamed_statements() {
        return Ok(());
    }
    counted();
    client.batch_execute(SESSION_SETTINGS).await
}

/// What [`plan_once`] sets. Without JIT: a generic plan's estimates (a `limit $n` is
/// taken for a tenth of the table) passed `jit_above_cost`, and the claim was compiled
/// anew at every call — 25 ms at 1,000,000 queued, for a statement that runs in 0.6.
const SESSION_SETTINGS: &str = "set plan_cache_mode = force_generic_plan; set jit = off";
const GENERIC_PLANS: &str = "set plan_cache_mode = force_generic_plan";
const PLANS_PER_CALL: &str = "set plan_cache_mode = auto";
const NO_SEQUENTIAL_SCANS: &str = "set enable_seqscan = off";
const SEQUENTIAL_SCANS: &str = "reset enable_seqscan";

/// `query!("area/name")`: the `&'static Query` of `sql/queries/area/name.sql`. A missing file
/// is a compile error.
macro_rules! query {
    ($name:literal) => {
        &$crate::store::db::Query {
            name: $name,
            text: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/sql/queries/",
                $name,
                ".sql"
            )),
        }
    };
}
pub(crate) use query;

pub type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A statement ready to run on one connection.
pub enum Prepared {
    /// A named statement kept by the connection: parsed once, then only bound and run.
    Named(Statement),
    /// Sent whole with every execution as the unnamed statement (parse, bind, describe and
    /// execute in one round trip), so that nothing of it outlives the transaction — what a
    /// PgBouncer before 1.21 in transaction mode needs, since it may give the next
    /// transaction another server. The parameter types are learned once per process.
    Unnamed {
        text: &'static str,
        types: Arc<[Type]>,
    },
}

/// Whether pooled connections run unnamed statements (see [`use_unnamed_statements`]).
static UNNAMED: AtomicBool = AtomicBool::new(false);

/// The parameter types of each statement run unnamed, by query name: a property of the text
/// and the schema, the same on every connection (hence "restart processes after migrating").
static PARAMETER_TYPES: LazyLock<Mutex<TypesByQuery>> = LazyLock::new(Mutex::default);

type TypesByQuery = HashMap<&'static str, Arc<[Type]>>;

/// From now on, pooled connections (and their transactions) of this process run every
/// statement as the unnamed statement instead of keeping prepared ones. For a process whose
/// pool goes through PgBouncer in transaction mode (`PGDAG_POLL_ONLY`); its own sessions
/// ([`Session`], on `PGDAG_SESSION_DATABASE_URL`) keep their prepared statements. Process
/// wide: the mode belongs to the process's environment, not to one pool.
pub fn use_unnamed_statements() {
    UNNAMED.store(true, Ordering::Relaxed);
}

/// True once [`use_unnamed_statements`] was called.
pub fn unnamed_statements() -> bool {
    UNNAMED.load(Ordering::Relaxed)
}

fn known_types(name: &str) -> Option<Arc<[Type]>> {
    PARAMETER_TYPES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(name)
        .cloned()
}

fn remember_types(name: &'static str, types: &[Type]) -> Arc<[Type]> {
    let types: Arc<[Type]> = types.into();
    PARAMETER_TYPES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(name, types.clone());
    types
}

/// The parameters paired with their types, as `query_typed` takes them.
fn typed<'a>(params: &Params<'a>, types: &[Type]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().copied().zip(types.iter().cloned()).collect()
}

/// A connection (or transaction) that runs [`Query`]s. The provided methods are the store's
/// whole interface to the driver; the required ones adapt a kind of connection.
pub trait Conn: Sync {
    /// The statement for `query` on this connection: prepared at its first use here, or
    /// (unnamed mode) its text with the parameter types.
    fn prepared(
        &self,
        query: &'static Query,
    ) -> impl Future<Output = Result<Prepared, tokio_postgres::Error>> + Send;
    fn driver_query(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send;
    fn driver_query_one(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Row, tokio_postgres::Error>> + Send;
    fn driver_query_opt(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, tokio_postgres::Error>> + Send;
    fn driver_execute(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64, tokio_postgres::Error>> + Send;
    fn driver_batch(
        &self,
        text: &str,
    ) -> impl Future<Output = Result<(), tokio_postgres::Error>> + Send;

    /// All rows.
    fn fetch(
        &self,
        query: &'static Query,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send {
        async move {
            let statement = self.prepared(query).await?;
            counted();
            self.planned(query, self.driver_query(&statement, params))
                .await
        }
    }

    /// Exactly one row (an error otherwise, as the driver's `query_one`).
    fn fetch_one(
        &self,
        query: &'static Query,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Row>> + Send {
        async move {
            let statement = self.prepared(query).await?;
            counted();
            self.planned(query, self.driver_query_one(&statement, params))
                .await
        }
    }

    /// At most one row.
    fn fetch_opt(
        &self,
        query: &'static Query,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>>> + Send {
        async move {
            let statement = self.prepared(query).await?;
            counted();
            self.planned(query, self.driver_query_opt(&statement, params))
                .await
        }
    }

    /// The number of rows changed.
    fn exec(
        &self,
        query: &'static Query,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let statement = self.prepared(query).await?;
            counted();
            self.planned(query, self.driver_execute(&statement, params))
                .await
        }
    }

    /// True when this connection makes each statement's plan once ([`plan_once`]).
    fn plans_once(&self) -> bool {
        false
    }

    /// `run`, one execution of `query`; on a connection that plans once, a statement
    /// planned per call gets the default mode around it, and one planned by index runs
    /// without sequential scans, the settings sent with it (one round trip).
    fn planned<'a, T: Send + 'a>(
        &'a self,
        query: &'static Query,
        run: impl Future<Output = Result<T, tokio_postgres::Error>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        async move {
            let Some((set, reset)) = query.plan_settings().filter(|_| self.plans_once()) else {
                return Ok(run.await?);
            };
            // Polled in order, so sent in order: each sends its messages at its first poll.
            // The setting after is sent behind the statement and not waited for: the
            // statement's rows are all its caller needs, and whoever uses the connection
            // next is answered after it (its answer, dropped, is skipped).
            let mut after = std::pin::pin!(self.exec_simple(reset));
            let ((before, result), ()) = futures_util::future::join(
                futures_util::future::join(self.exec_simple(set), run),
                futures_util::future::poll_fn(|cx| {
                    let _ = after.as_mut().poll(cx);
                    std::task::Poll::Ready(())
                }),
            )
            .await;
            before?;
            Ok(result?)
        }
    }

    /// A statement that cannot be prepared (LISTEN, CREATE DATABASE), as a simple query.
    fn exec_simple(&self, text: &str) -> impl Future<Output = Result<()>> + Send {
        async move {
            counted();
            Ok(self.driver_batch(text).await?)
        }
    }
}

/// `Conn` for deadpool's pooled client and its transaction: named statements in
/// deadpool's per-connection cache, or unnamed ones (see [`Prepared::Unnamed`]).
/// `$in_transaction` says whether a statement prepared to learn its parameter types is
/// already inside a transaction; an autocommit client wraps it in one, so that its `Close`
/// reaches the same server through a transaction-mode PgBouncer and no named statement is
/// left behind there (another client's statement of the same name would then fail).
macro_rules! pooled_conn {
    ($type:ty, $in_transaction:literal) => {
        impl Conn for $type {
            async fn prepared(
                &self,
                query: &'static Query,
            ) -> Result<Prepared, tokio_postgres::Error> {
                if !unnamed_statements() {
                    return Ok(Prepared::Named(self.prepare_cached(query.text).await?));
                }
                if let Some(types) = known_types(query.name) {
                    return Ok(Prepared::Unnamed {
                        text: query.text,
                        types,
                    });
                }
                if !$in_transaction {
                    self.batch_execute("begin").await?;
                }
                // Dropping the statement (at the end of `map`) queues its `Close` now, before
                // the commit.
                let types = self
                    .prepare(query.text)
                    .await
                    .map(|statement| statement.params().to_vec());
                if !$in_transaction {
                    let end = if types.is_ok() { "commit" } else { "rollback" };
                    self.batch_execute(end).await?;
                }
                Ok(Prepared::Unnamed {
                    text: query.text,
                    types: remember_types(query.name, &types?),
                })
            }
            async fn driver_query(
                &self,
                statement: &Prepared,
                params: &Params<'_>,
            ) -> Result<Vec<Row>, tokio_postgres::Error> {
                match statement {
                    Prepared::Named(s) => self.query(s, params).await,
                    Prepared::Unnamed { text, types } => {
                        self.query_typed(text, &typed(params, types)).await
                    }
                }
            }
            async fn driver_query_one(
                &self,
                statement: &Prepared,
                params: &Params<'_>,
            ) -> Result<Row, tokio_postgres::Error> {
                match statement {
                    Prepared::Named(s) => self.query_one(s, params).await,
                    Prepared::Unnamed { text, types } => {
                        self.query_typed_one(text, &typed(params, types)).await
                    }
                }
            }
            async fn driver_query_opt(
                &self,
                statement: &Prepared,
                params: &Params<'_>,
            ) -> Result<Option<Row>, tokio_postgres::Error> {
                match statement {
                    Prepared::Named(s) => self.query_opt(s, params).await,
                    Prepared::Unnamed { text, types } => {
                        self.query_typed_opt(text, &typed(params, types)).await
                    }
                }
            }
            async fn driver_execute(
                &self,
                statement: &Prepared,
                params: &Params<'_>,
            ) -> Result<u64, tokio_postgres::Error> {
                match statement {
                    Prepared::Named(s) => self.execute(s, params).await,
                    Prepared::Unnamed { text, types } => {
                        self.execute_typed(text, &typed(params, types)).await
                    }
                }
            }
            async fn driver_batch(&self, text: &str) -> Result<(), tokio_postgres::Error> {
                self.batch_execute(text).await
            }
            fn plans_once(&self) -> bool {
                !unnamed_statements()
            }
        }
    };
}

pooled_conn!(deadpool_postgres::Object, false);
pooled_conn!(deadpool_postgres::Transaction<'_>, true);

/// A connection this process owns outside the pool (advisory locks, heartbeat, LISTEN,
/// migrations), with its own statement cache: pooled connections have deadpool's. Always
/// named statements: a session is direct (or session-mode pooled), whatever the pool is.
pub struct Session {
    client: tokio_postgres::Client,
    statements: Mutex<HashMap<&'static str, Statement>>,
}

impl Session {
    pub fn new(client: tokio_postgres::Client) -> Session {
        Session {
            client,
            statements: Mutex::default(),
        }
    }

    /// The driver's client, for what needs it whole (refinery runs migrations on it).
    pub(crate) fn client_mut(&mut self) -> &mut tokio_postgres::Client {
        &mut self.client
    }

    /// Cancels what the session runs (a blocked lock wait on shutdown).
    pub fn cancel_token(&self) -> tokio_postgres::CancelToken {
        self.client.cancel_token()
    }

    fn cached(&self, name: &str) -> Option<Statement> {
        self.statements
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }
}

impl Conn for Session {
    async fn prepared(&self, query: &'static Query) -> Result<Prepared, tokio_postgres::Error> {
        if let Some(statement) = self.cached(query.name) {
            return Ok(Prepared::Named(statement));
        }
        // Two callers may prepare the same statement at once; the second one kept wins and
        // the first is closed when dropped, so the cache still holds one per name.
        let statement = self.client.prepare(query.text).await?;
        self.statements
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(query.name, statement.clone());
        Ok(Prepared::Named(statement))
    }
    async fn driver_query(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        match statement {
            Prepared::Named(s) => self.client.query(s, params).await,
            Prepared::Unnamed { text, types } => {
                self.client.query_typed(text, &typed(params, types)).await
            }
        }
    }
    async fn driver_query_one(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> Result<Row, tokio_postgres::Error> {
        match statement {
            Prepared::Named(s) => self.client.query_one(s, params).await,
            Prepared::Unnamed { text, types } => {
                self.client
                    .query_typed_one(text, &typed(params, types))
                    .await
            }
        }
    }
    async fn driver_query_opt(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        match statement {
            Prepared::Named(s) => self.client.query_opt(s, params).await,
            Prepared::Unnamed { text, types } => {
                self.client
                    .query_typed_opt(text, &typed(params, types))
                    .await
            }
        }
    }
    async fn driver_execute(
        &self,
        statement: &Prepared,
        params: &Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        match statement {
            Prepared::Named(s) => self.client.execute(s, params).await,
            Prepared::Unnamed { text, types } => {
                self.client.execute_typed(text, &typed(params, types)).await
            }
        }
    }
    async fn driver_batch(&self, text: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(text).await
    }
}

/// The one place a statement is counted.
fn counted() {
    crate::metrics::add(&crate::metrics::QUERIES, 1);
}

/// Guards that keep every statement in `sql/queries` and on the helper above. They read the
/// sources, so a statement added the old way fails here before it can bypass the count.
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, ext, out);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }

    /// Rust source split into its code (comments removed, string literals emptied) and its
    /// string literals. Enough of Rust's lexing for pgdag's sources: line and block comments,
    /// plain, byte and raw strings, char literals versus lifetimes.
    fn lex(text: &str) -> (String, Vec<String>) {
        let chars: Vec<char> = text.chars().collect();
        let (mut code, mut strings) = (String::new(), Vec::new());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c == '/' && next == Some('/') {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && next == Some('*') {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            } else if c == 'r' && (next == Some('"') || next == Some('#')) && {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                chars.get(i + 1 + hashes) == Some(&'"')
                    && !chars
                        .get(i.wrapping_sub(1))
                        .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            } {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                let close: String = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                let start = i + 2 + hashes;
                let rest: String = chars[start..].iter().collect();
                let end = rest.find(&close).expect("raw string closes");
                strings.push(rest[..end].to_string());
                code.push_str("\"\"");
                i = start + rest[..end].chars().count() + close.chars().count();
            } else if c == '"' {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                i += 1;
                strings.push(s);
                code.push_str("\"\"");
            } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
                i += 3; // 'x'
            } else if c == '\'' && next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1; // '\n', '\u{..}'
            } else {
                code.push(c);
                i += 1;
            }
        }
        (code, strings)
    }

    /// Does this string literal read like a statement?
    fn looks_like_sql(text: &str) -> bool {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let w = |i: usize| words.get(i).copied().unwrap_or("");
        match w(0) {
            "select" => words.len() > 1,
            // A channel name (pgdag's have an underscore) or a placeholder for one.
            "listen" | "notify" | "unlisten" => {
                w(1).contains(['_', '{', ';', ',']) && words.len() <= 3
            }
            "insert" => w(1) == "into",
            "delete" => w(1) == "from",
            "update" => w(2) == "set",
            "with" => w(2) == "as" || w(1) == "recursive",
            "set" => w(2) == "=" || w(2) == "to" || w(1).contains('='),
            "begin" | "begin;" | "commit" | "rollback" => words.len() <= 2,
            "create" | "drop" | "alter" | "truncate" => matches!(
                w(1),
                "table" | "database" | "index" | "unique" | "or" | "schema" | "function"
            ),
            _ => false,
        }
    }

    const DRIVER_CALLS: [&str; 11] = [
        ".query(",
        ".query_one(",
        ".query_opt(",
        ".query_raw(",
        ".query_typed(",
        ".execute(",
        ".execute_raw(",
        ".batch_execute(",
        ".simple_query(",
        ".prepare(",
        ".prepare_cached(",
    ];

    #[test]
    fn looks_like_sql_tells_statements_from_words() {
        for sql in [
            "select 1",
            "SELECT pg_try_advisory_lock($1)",
            "update pgdag.server set stopped_at = now() where id = $1",
            "LISTEN pgdag_command;",
            "LISTEN {};",
            "notify pgdag_eval, 'kill'",
            "set idle_session_timeout = 1000",
            "insert into t values (1)",
            "with picked as materialized (select 1) select * from picked",
        ] {
            assert!(looks_like_sql(sql), "{sql}");
        }
        for word in [
            "delete",
            "set-cookie",
            "notify",
            "select",
            "DELETE",
            "set `x` or `y`",
        ] {
            assert!(!looks_like_sql(word), "{word}");
        }
    }

    #[test]
    fn every_query_file_is_run_by_exactly_one_call() {
        let mut sources = Vec::new();
        files(&root().join("src/store"), "rs", &mut sources);
        let mut calls: BTreeMap<String, usize> = BTreeMap::new();
        for path in sources {
            let (code, strings) = lex(&std::fs::read_to_string(&path).unwrap());
            // Literals come out in order; pair each `query!("")` in the code with its name.
            let mut names = strings.into_iter();
            let mut rest = code.as_str();
            while let Some(at) = rest.find('"') {
                let name = names.next().expect("a literal per quote pair");
                if rest[..at].ends_with("query!(") {
                    *calls.entry(name).or_default() += 1;
                }
                rest = &rest[at + 2..];
            }
        }
        let mut sql = Vec::new();
        files(&root().join("sql/queries"), "sql", &mut sql);
        let mut expected = BTreeMap::new();
        for path in sql {
            let name = path
                .strip_prefix(root().join("sql/queries"))
                .unwrap()
                .with_extension("");
            expected.insert(name.to_string_lossy().into_owned(), 1usize);
        }
        assert!(expected.len() > 150, "the sql/queries files were found");
        assert_eq!(calls, expected, "each statement file is run from one place");
    }

    /// No SQL text and no driver call outside `store` (the `sql` and `procedure` task types
    /// run their users' SQL, and tests may write SQL to check on the database).
    #[test]
    fn no_sql_outside_the_store() {
        let mut sources = Vec::new();
        files(&root().join("src"), "rs", &mut sources);
        let mut found = Vec::new();
        for path in sources {
            let relative = path
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let user_sql = ["src/tasks/sql.rs", "src/tasks/procedure.rs"];
            if user_sql.contains(&relative.as_str())
                || relative == "src/store/db.rs"
                || path.file_name().is_some_and(|n| n == "tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests sit at the end of a file, after `#[cfg(test)]`.
            let text = text.split("#[cfg(test)]").next().unwrap();
            let (code, strings) = lex(text);
            for call in DRIVER_CALLS {
                if code.contains(call) {
                    found.push(format!("{relative}: driver call {call}"));
                }
            }
            if !relative.starts_with("src/store/") {
                for s in strings.iter().filter(|s| looks_like_sql(s)) {
                    found.push(format!("{relative}: SQL text {s:?}"));
                }
            }
        }
        assert!(found.is_empty(), "{found:#?}");
    }
}
