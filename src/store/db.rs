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
//! Preparing happens in [`Conn::prepared`] only. A mode that must not keep named statements
//! across transactions (PgBouncer before 1.21 in transaction mode) changes that method (to
//! an unnamed statement per execution) and nothing else.
//!
//! Statements that cannot be prepared — transaction control, `LISTEN`, `CREATE DATABASE`
//! with a quoted identifier — go through [`Conn::exec_simple`], counted the same way; their
//! text lives in `store` too. `BEGIN`/`COMMIT`/savepoints issued by the driver's
//! `transaction()` are not statements of ours and are not counted.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::Result;

/// One statement of `sql/queries`.
#[derive(Debug)]
pub struct Query {
    /// `area/name`: the file's path under `sql/queries`, without `.sql`.
    pub name: &'static str,
    pub text: &'static str,
}

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

/// A connection (or transaction) that runs [`Query`]s. The provided methods are the store's
/// whole interface to the driver; the required ones adapt a kind of connection.
pub trait Conn: Sync {
    /// The statement for `query` on this connection, prepared at its first use here.
    fn prepared(
        &self,
        query: &'static Query,
    ) -> impl Future<Output = Result<Statement, tokio_postgres::Error>> + Send;
    fn driver_query(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send;
    fn driver_query_one(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Row, tokio_postgres::Error>> + Send;
    fn driver_query_opt(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, tokio_postgres::Error>> + Send;
    fn driver_execute(
        &self,
        statement: &Statement,
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
            Ok(self.driver_query(&statement, params).await?)
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
            Ok(self.driver_query_one(&statement, params).await?)
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
            Ok(self.driver_query_opt(&statement, params).await?)
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
            Ok(self.driver_execute(&statement, params).await?)
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

impl<C: GenericClient> Conn for C {
    async fn prepared(&self, query: &'static Query) -> Result<Statement, tokio_postgres::Error> {
        self.prepare_cached(query.text).await
    }
    async fn driver_query(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.query(statement, params).await
    }
    async fn driver_query_one(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Row, tokio_postgres::Error> {
        self.query_one(statement, params).await
    }
    async fn driver_query_opt(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        self.query_opt(statement, params).await
    }
    async fn driver_execute(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        self.execute(statement, params).await
    }
    async fn driver_batch(&self, text: &str) -> Result<(), tokio_postgres::Error> {
        self.batch_execute(text).await
    }
}

/// A connection this process owns outside the pool (advisory locks, heartbeat, LISTEN,
/// migrations), with its own statement cache: pooled connections have deadpool's.
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

    fn cached(&self, name: &str) -> Option<Statement> {
        self.statements
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .cloned()
    }
}

impl Conn for Session {
    async fn prepared(&self, query: &'static Query) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.cached(query.name) {
            return Ok(statement);
        }
        // Two callers may prepare the same statement at once; the second one kept wins and
        // the first is closed when dropped, so the cache still holds one per name.
        let statement = self.client.prepare(query.text).await?;
        self.statements
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(query.name, statement.clone());
        Ok(statement)
    }
    async fn driver_query(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.client.query(statement, params).await
    }
    async fn driver_query_one(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Row, tokio_postgres::Error> {
        self.client.query_one(statement, params).await
    }
    async fn driver_query_opt(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        self.client.query_opt(statement, params).await
    }
    async fn driver_execute(
        &self,
        statement: &Statement,
        params: &Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        self.client.execute(statement, params).await
    }
    async fn driver_batch(&self, text: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(text).await
    }
}

/// The one place a statement is counted.
fn counted() {}
