//! Starts and stops the roles of one process. `start` returns a handle whose `stop`
//! cancels every service and waits for them; the CLI runs it until SIGINT/SIGTERM.

use std::net::SocketAddr;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::{self, Membership, Wakeups};
use crate::config::Config;
use crate::secret::SecretKey;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Master,
    Worker,
    Alert,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Master => "master",
            Role::Worker => "worker",
            Role::Alert => "alert",
        }
    }
    pub const ALL: [Role; 4] = [Role::Api, Role::Master, Role::Worker, Role::Alert];
}

pub fn parse_roles(text: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let role = match name {
            "api" => Role::Api,
            "master" => Role::Master,
            "worker" => Role::Worker,
            "alert" => Role::Alert,
            other => {
                return Err(format!(
                    "unknown role {other:?} (expected api, master, worker, alert)"
                ));
            }
        };
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err("--roles names no role".into());
    }
    Ok(roles)
}

pub struct Running {
    pub membership: Membership,
    pub api_addr: Option<SocketAddr>,
    pub store: Store,
    worker: Option<crate::worker::Worker>,
    shutdown_grace: std::time::Duration,
    cancel: CancellationToken,
    set: JoinSet<()>,
}

impl Running {
    pub fn server_id(&self) -> i64 {
        self.membership.server_id()
    }

    /// Graceful stop: the worker stops claiming, lets running tasks finish for the
    /// shutdown grace and hands back the rest; then every service ends and the server row
    /// is marked stopped.
    pub async fn stop(mut self) {
        if let Some(worker) = &self.worker {
            worker.drain(self.shutdown_grace).await;
        }
        self.cancel.cancel();
        while self.set.join_next().await.is_some() {}
    }
}

/// The key that opens stored passwords. A worker must have it when any datasource has a
/// stored password, an alert process when any alert group has one (and it must be the
/// right key), else the process does not start.
fn check_secret_key(
    key: &Option<SecretKey>,
    what: &str,
    sample: Option<Vec<u8>>,
) -> Result<(), StoreError> {
    let Some(sample) = sample else {
        return Ok(());
    };
    match key {
        None => Err(StoreError::Invalid(format!(
            "{what} has a stored password: set {} to the key it was stored with",
            crate::secret::SECRET_KEY_VAR
        ))),
        Some(k) => k.decrypt(&sample).map(|_| ()).map_err(StoreError::Invalid),
    }
}

pub async fn start(config: Config, roles: &[Role]) -> Result<Running, StoreError> {
    let role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
    let pool_size = if roles.contains(&Role::Worker) {
        8 + config.max_tasks.min(8)
    } else {
        8
    };
    let application_name = format!("pgdag:{}", role_names.join("+"));
    let mut store = Store::connect(&config.database_url, &application_name, pool_size)?;
    if let Some(url) = &config.session_database_url {
        store = store.with_session_url(url, &application_name)?;
    }
    let secret_key = if roles.contains(&Role::Worker) || roles.contains(&Role::Alert) {
        SecretKey::from_env().map_err(StoreError::Invalid)?
    } else {
        None
    };
    if roles.contains(&Role::Worker) {
        let client = store.client().await?;
        let sample = crate::store::datasources::any_stored_password(&client).await?;
        check_secret_key(&secret_key, "a datasource", sample)?;
    }
    if roles.contains(&Role::Alert) {
        let client = store.client().await?;
        let sample = crate::store::alerts::any_stored_password(&client).await?;
        check_secret_key(&secret_key, "an alert group", sample)?;
    }
    let cancel = CancellationToken::new();
    let (membership, membership_service) =
        cluster::membership::start(store.clone(), config.clone(), role_names, cancel.clone())
            .await?;
    let wakeups = Wakeups::default();
    let mut set = JoinSet::new();
    if !config.poll_only {
        set.spawn(cluster::listener::run(
            store.clone(),
            wakeups.clone(),
            cancel.clone(),
        ));
    }
    set.spawn(membership_service);
    if roles.contains(&Role::Master) {
        crate::master::start(
            &mut set,
            store.clone(),
            config.clone(),
            wakeups.clone(),
            cancel.clone(),
        );
        set.spawn(cluster::leader::run(
            store.clone(),
            config.clone(),
            membership.clone(),
            cancel.clone(),
        ));
    }
    let mut worker = None;
    if roles.contains(&Role::Worker) {
        worker = Some(crate::worker::start(
            &mut set,
            store.clone(),
            config.clone(),
            membership.clone(),
            wakeups.clone(),
            secret_key.clone(),
            cancel.clone(),
        ));
    }
    if roles.contains(&Role::Alert) {
        crate::alert::start(
            &mut set,
            store.clone(),
            config.clone(),
            membership.clone(),
            wakeups.clone(),
            secret_key.clone(),
            cancel.clone(),
        );
    }
    let mut api_addr = None;
    if roles.contains(&Role::Api) {
        let settings = crate::api::Settings::from_config(&config);
        let (addr, server) =
            crate::api::bind(store.clone(), settings, config.http_addr, cancel.clone())
                .await
                .map_err(|e| {
                    StoreError::Invalid(format!("cannot listen on {}: {e}", config.http_addr))
                })?;
        api_addr = Some(addr);
        set.spawn(server);
    }
    Ok(Running {
        membership,
        api_addr,
        store,
        worker,
        shutdown_grace: config.shutdown_grace.as_std(),
        cancel,
        set,
    })
}

/// Wait for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
}
