//! Connection pools to datasources, one per datasource on each worker, so that `sql` and
//! `procedure` attempts cost a statement, not a connection.
//!
//! A pool holds at most `PGDAG_DATASOURCE_POOL_SIZE` connections; attempts beyond that
//! wait for one. A pool is keyed by the datasource's project and name and remembers a
//! fingerprint of what it was built from (type, URL, password): an attempt that finds the
//! datasource changed builds a new pool, and the old one closes as its connections come
//! back. Connections unused for `IDLE` are closed, and a pool unused for as long goes.
//!
//! A Postgres connection is cleaned by the attempt that takes it (`DISCARD ALL`, sent in
//! the same round trip as its `BEGIN` and statement: `sql::SESSION_RESET`), so that what
//! one attempt set on its session (`SET` without `LOCAL`, temporary tables, advisory locks)
//! does not reach the next; the pool itself only checks that the connection is open.
//! MySQL's pool resets its connections itself.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::tls::{self, Connector};
use crate::store::datasources::DatasourceRecord;

/// Connections (and pools) unused this long are closed.
pub const IDLE: Duration = Duration::from_secs(60);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A pool of one datasource.
#[derive(Clone)]
pub enum Pool {
    Postgres {
        pool: deadpool_postgres::Pool,
        /// For cancel requests, which open a connection of their own.
        tls: Connector,
    },
    Mysql(mysql_async::Pool),
}

struct Entry {
    fingerprint: u64,
    pool: Pool,
    last_used: Instant,
}

/// Every datasource pool of this worker.
pub struct Pools {
    size: usize,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl Pools {
    /// Pools of at most `size` connections each; a sweeper closes idle ones while the
    /// returned value lives.
    pub fn start(size: usize) -> Arc<Pools> {
        let pools = Arc::new(Pools {
            size: size.max(1),
            entries: Mutex::default(),
        });
        let weak: Weak<Pools> = Arc::downgrade(&pools);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE / 2).await;
                let Some(pools) = weak.upgrade() else { return };
                pools.sweep();
            }
        });
        pools
    }

    /// The pool for this datasource as it is now defined, built when there is none or the
    /// definition changed.
    pub fn get(
        &self,
        key: (&str, &str),
        record: &DatasourceRecord,
        password: Option<&str>,
        application_name: &str,
    ) -> Result<Pool, String> {
        let fingerprint = fingerprint(record, password);
        let mut entries = self.entries.lock().expect("pool lock");
        let map_key = (key.0.to_string(), key.1.to_string());
        if let Some(entry) = entries.get_mut(&map_key)
            && entry.fingerprint == fingerprint
        {
            entry.last_used = Instant::now();
            return Ok(entry.pool.clone());
        }
        let pool = build(key.1, record, password, self.size, application_name)?;
        if let Some(old) = entries.insert(
            map_key,
            Entry {
                fingerprint,
                pool: pool.clone(),
                last_used: Instant::now(),
            },
        ) {
            close(old.pool);
        }
        Ok(pool)
    }

    /// Close connections and pools unused for `IDLE`.
    fn sweep(&self) {
        let mut entries = self.entries.lock().expect("pool lock");
        let idle: Vec<_> = entries
            .iter()
            .filter(|(_, e)| e.last_used.elapsed() >= IDLE)
            .map(|(k, _)| k.clone())
            .collect();
        for key in idle {
            if let Some(entry) = entries.remove(&key) {
                close(entry.pool);
            }
        }
        for entry in entries.values() {
            if let Pool::Postgres { pool, .. } = &entry.pool {
                pool.retain(|_, metrics| metrics.last_used() < IDLE);
            }
        }
    }
}

/// A pool no longer handed out: its connections close as they come back.
fn close(pool: Pool) {
    match pool {
        Pool::Postgres { pool, .. } => pool.close(),
        Pool::Mysql(pool) => {
            tokio::spawn(async move {
                let _ = pool.disconnect().await;
            });
        }
    }
}

fn fingerprint(record: &DatasourceRecord, password: Option<&str>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    record.db_type.hash(&mut hasher);
    record.url.hash(&mut hasher);
    record.password_env.hash(&mut hasher);
    record.password_secret.hash(&mut hasher);
    password.hash(&mut hasher);
    hasher.finish()
}

fn build(
    name: &str,
    record: &DatasourceRecord,
    password: Option<&str>,
    size: usize,
    application_name: &str,
) -> Result<Pool, String> {
    match record.db_type.as_str() {
        "postgres" => {
            let (url, mode) =
                tls::split_sslmode(&record.url).map_err(|e| format!("datasource {name}: {e}"))?;
            let mut config = tokio_postgres::Config::from_str(&url)
                .map_err(|e| format!("datasource {name}: bad url: {e}"))?;
            if let Some(password) = password {
                config.password(password);
            }
            if config.get_application_name().is_none() {
                config.application_name(application_name);
            }
            config.connect_timeout(CONNECT_TIMEOUT);
            let tls = Connector::new(mode).map_err(|e| format!("datasource {name}: {e}"))?;
            let manager = deadpool_postgres::Manager::from_config(
                config,
                tls.clone(),
                deadpool_postgres::ManagerConfig {
                    // The attempt cleans the session itself, pipelined with its first
                    // statements (`sql::SESSION_RESET`): no round trip of its own here.
                    recycling_method: deadpool_postgres::RecyclingMethod::Fast,
                },
            );
            let pool = deadpool_postgres::Pool::builder(manager)
                .max_size(size)
                .build()
                .map_err(|e| format!("datasource {name}: {e}"))?;
            Ok(Pool::Postgres { pool, tls })
        }
        "mysql" => {
            let opts = mysql_async::Opts::from_url(&record.url)
                .map_err(|e| format!("datasource {name}: bad url: {e}"))?;
            let constraints = mysql_async::PoolConstraints::new(0, size)
                .ok_or_else(|| format!("datasource {name}: pool size {size}"))?;
            let mut builder = mysql_async::OptsBuilder::from_opts(opts).pool_opts(
                mysql_async::PoolOpts::default()
                    .with_constraints(constraints)
                    .with_inactive_connection_ttl(IDLE)
                    .with_ttl_check_interval(IDLE / 2),
            );
            if password.is_some() {
                builder = builder.pass(password);
            }
            Ok(Pool::Mysql(mysql_async::Pool::new(builder)))
        }
        other => Err(format!("datasource {name} has unknown type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(url: &str) -> DatasourceRecord {
        DatasourceRecord {
            db_type: "postgres".into(),
            url: url.into(),
            password_env: None,
            password_secret: None,
        }
    }

    #[tokio::test]
    async fn a_pool_is_reused_until_its_datasource_changes() {
        let pools = Pools::start(2);
        let key = ("p", "d");
        let same = |a: &Pool, b: &Pool| match (a, b) {
            (Pool::Postgres { pool: a, .. }, Pool::Postgres { pool: b, .. }) => {
                std::ptr::eq(a.manager(), b.manager())
            }
            _ => false,
        };
        let first = pools
            .get(key, &record("postgres://h/a"), None, "t")
            .unwrap();
        let again = pools
            .get(key, &record("postgres://h/a"), None, "t")
            .unwrap();
        assert!(same(&first, &again));
        let other_password = pools
            .get(key, &record("postgres://h/a"), Some("x"), "t")
            .unwrap();
        assert!(!same(&first, &other_password));
        let Pool::Postgres { pool, .. } = &first else {
            unreachable!()
        };
        assert!(pool.is_closed(), "the replaced pool is closed");
        let moved = pools
            .get(key, &record("postgres://h/b"), Some("x"), "t")
            .unwrap();
        assert!(!same(&other_password, &moved));
        assert!(
            pools
                .get(key, &record("postgres://h/b?sslmode=maybe"), None, "t")
                .is_err()
        );
    }
}
