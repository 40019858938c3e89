//! Starts and stops the roles of one process. `start` returns a handle whose `stop`
//! cancels every service and waits for them; the CLI runs it until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::{self, Wakeups};
use crate::config::Config;
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
    pub const ALL: [Role; 3] = [Role::Api, Role::Master, Role::Worker];
}

pub fn parse_roles(text: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let role = match name {
            "api" => Role::Api,
            "master" => Role::Master,
            "worker" => Role::Worker,
            "alert" => return Err("role alert is not available yet".into()),
            other => {
                return Err(format!(
                    "unknown role {other:?} (expected api, master, worker)"
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
    pub server_id: i64,
    pub api_addr: Option<SocketAddr>,
    pub store: Store,
    cancel: CancellationToken,
    set: JoinSet<()>,
}

impl Running {
    /// Cancel every service and wait for them to end.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        while self.set.join_next().await.is_some() {}
    }
}

pub async fn start(config: Config, roles: &[Role]) -> Result<Running, StoreError> {
    let role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
    let pool_size = if roles.contains(&Role::Worker) {
        8 + config.max_tasks.min(8)
    } else {
        8
    };
    let store = Store::connect(
        &config.database_url,
        &format!("pgdag:{}", role_names.join("+")),
        pool_size,
    )?;
    let server_id = cluster::heartbeat::register(&store, &config, &role_names).await?;
    let cancel = CancellationToken::new();
    let wakeups = Wakeups::default();
    let running_count = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    set.spawn(cluster::listener::run(
        store.clone(),
        wakeups.clone(),
        cancel.clone(),
    ));
    set.spawn(cluster::heartbeat::run(
        store.clone(),
        server_id,
        config.heartbeat_interval.as_std(),
        running_count.clone(),
        cancel.clone(),
    ));
    if roles.contains(&Role::Master) {
        crate::master::start(
            &mut set,
            store.clone(),
            config.clone(),
            wakeups.clone(),
            cancel.clone(),
        );
    }
    if roles.contains(&Role::Worker) {
        crate::worker::start(
            &mut set,
            store.clone(),
            config.clone(),
            server_id,
            wakeups.clone(),
            running_count.clone(),
            cancel.clone(),
        );
    }
    let mut api_addr = None;
    if roles.contains(&Role::Api) {
        let (addr, server) = crate::api::bind(store.clone(), config.http_addr, cancel.clone())
            .await
            .map_err(|e| {
                StoreError::Invalid(format!("cannot listen on {}: {e}", config.http_addr))
            })?;
        api_addr = Some(addr);
        set.spawn(server);
    }
    Ok(Running {
        server_id,
        api_addr,
        store,
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
