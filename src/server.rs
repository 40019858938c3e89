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
    /// The wake-ups of this process's loops and the count of their rounds (for tests:
    /// wake the loops after moving the clock, wait for a round instead of sleeping).
    pub wakeups: Wakeups,
    pub api_addr: Option<SocketAddr>,
    /// Where a process without the api role serves `/metrics`, `/healthz` and `/readyz`
    /// (`None`: it has the api role, or `PGDAG_METRICS_ADDR=off`).
    pub metrics_addr: Option<SocketAddr>,
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

/// Every service's settings, built from `Config` in this one place and validated before
/// anything starts.
#[derive(Debug, Clone)]
pub struct ServiceConfigs {
    pub master: crate::master::MasterConfig,
    pub worker: crate::worker::WorkerConfig,
    pub alert: crate::alert::AlertConfig,
    pub leader: cluster::leader::LeaderConfig,
    pub membership: cluster::membership::MembershipConfig,
}

impl ServiceConfigs {
    pub fn from_config(config: &Config) -> Result<ServiceConfigs, String> {
        use crate::master::{commands::ConsumerConfig, evaluator::EvaluatorConfig};
        use crate::worker::{fetcher::FetcherConfig, kill_watch::DEFAULT_KILL_POLL};
        use cluster::{firer::FirerConfig, leader::LeaderConfig};
        let poll_interval = config.poll_interval.as_std();
        let services = ServiceConfigs {
            master: crate::master::MasterConfig {
                consumer: ConsumerConfig {
                    consumers: ConsumerConfig::DEFAULT_CONSUMERS,
                    batch: ConsumerConfig::DEFAULT_BATCH,
                    poll_interval,
                    server_name: config.server_name.clone(),
                    clock: config.clock.clone(),
                },
                evaluator: EvaluatorConfig {
                    poll_interval,
                    clock: config.clock.clone(),
                    max_map_items: config.max_map_items,
                },
            },
            worker: crate::worker::WorkerConfig {
                fetcher: FetcherConfig {
                    max_tasks: config.max_tasks,
                    max_async_tasks: config.max_async_tasks,
                    prefetch: FetcherConfig::DEFAULT_PREFETCH,
                    worker_groups: config.worker_groups.clone(),
                    server_name: config.server_name.clone(),
                    poll_interval,
                    listening: !config.poll_only,
                },
                kill_poll: DEFAULT_KILL_POLL,
                state_dir: config.state_dir.clone(),
                clock: config.clock.clone(),
            },
            alert: crate::alert::AlertConfig {
                poll_interval,
                max_attempts: config.alert_max_attempts,
                retry_base: config.alert_retry_base.as_std(),
                lease: config.alert_lease.as_std(),
                default_group: config.alert_default_group.clone(),
                public_url: config.public_url.clone(),
                claim_batch: crate::alert::AlertConfig::DEFAULT_CLAIM_BATCH,
                route_batch: crate::alert::AlertConfig::DEFAULT_ROUTE_BATCH,
                clock: config.clock.clone(),
                http_allow: config.http_allow.clone(),
            },
            leader: LeaderConfig {
                retry: config.leader_retry.as_std(),
                tick: (config.dead_after.as_std() / 2).min(LeaderConfig::MAX_TICK),
                trust: config.dead_after.as_std() / 2,
                prune_every: LeaderConfig::DEFAULT_PRUNE_EVERY,
                retention_days: config.retention_days,
                dead_after: config.dead_after.as_std(),
                stale_after: config.heartbeat_interval.as_std() * 2,
                firer: FirerConfig {
                    // Woken by `pgdag_schedule`; without LISTEN it must look every poll.
                    max_sleep: if config.poll_only {
                        poll_interval
                    } else {
                        FirerConfig::DEFAULT_MAX_SLEEP
                    },
                    tolerance: FirerConfig::DEFAULT_TOLERANCE,
                    clock: config.clock.clone(),
                },
                clock: config.clock.clone(),
            },
            membership: cluster::membership::MembershipConfig {
                server_name: config.server_name.clone(),
                worker_groups: config.worker_groups.clone(),
                max_tasks: config.max_tasks,
                heartbeat_interval: config.heartbeat_interval.as_std(),
                dead_after: config.dead_after.as_std(),
                clock: config.clock.clone(),
            },
        };
        services.master.consumer.validate()?;
        services.master.evaluator.validate()?;
        services.worker.fetcher.validate()?;
        services.alert.validate()?;
        services.leader.validate()?;
        services.membership.validate()?;
        Ok(services)
    }
}

pub async fn start(config: Config, roles: &[Role]) -> Result<Running, StoreError> {
    let services = ServiceConfigs::from_config(&config).map_err(StoreError::Invalid)?;
    let wakeups = Wakeups::default();
    let rounds = wakeups.rounds.clone();
    let role_names: Vec<String> = roles.iter().map(|r| r.as_str().to_string()).collect();
    let pool_size = if roles.contains(&Role::Worker) {
        8 + config.max_tasks.min(8)
    } else {
        8
    };
    // Named `pgdag:<roles>` until the server id is known, then `pgdag:<roles>:<id>`.
    let application_name = crate::store::servers::application_name(&role_names, None);
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
    let (membership, store, membership_service) = cluster::membership::start(
        store.clone(),
        services.membership.clone(),
        role_names,
        rounds.clone(),
        cancel.clone(),
    )
    .await?;
    let mut set = JoinSet::new();
    if !config.poll_only {
        set.spawn(crate::service::run(
            cluster::listener::Listener {
                store: store.clone(),
                wakeups: wakeups.clone(),
                cancel: cancel.clone(),
            },
            crate::service::Loop::new(crate::service::rounds::LISTENER, cancel.clone())
                .counted(&rounds),
        ));
    }
    set.spawn(membership_service);
    if roles.contains(&Role::Master) {
        crate::master::start(
            &mut set,
            store.clone(),
            services.master.clone(),
            wakeups.clone(),
            &rounds,
            cancel.clone(),
        );
        set.spawn(cluster::leader::run(
            store.clone(),
            services.leader.clone(),
            membership.clone(),
            wakeups.clone(),
            cancel.clone(),
        ));
    }
    let mut worker = None;
    if roles.contains(&Role::Worker) {
        worker = Some(crate::worker::start(
            &mut set,
            store.clone(),
            services.worker.clone(),
            config.clone(),
            membership.clone(),
            wakeups.clone(),
            secret_key.clone(),
            &rounds,
            cancel.clone(),
        ));
    }
    if roles.contains(&Role::Alert) {
        crate::alert::start(
            &mut set,
            store.clone(),
            services.alert.clone(),
            membership.clone(),
            wakeups.clone(),
            secret_key.clone(),
            &rounds,
            cancel.clone(),
        );
    }
    let probe = crate::observe::Probe::new(store.clone(), Some(membership.clone()));
    let mut api_addr = None;
    let mut metrics_addr = None;
    if roles.contains(&Role::Api) {
        let mut settings = crate::api::Settings::from_config(&config);
        settings.probe = Some(probe);
        let (addr, server) =
            crate::api::bind(store.clone(), settings, config.http_addr, cancel.clone())
                .await
                .map_err(|e| {
                    StoreError::Invalid(format!("cannot listen on {}: {e}", config.http_addr))
                })?;
        api_addr = Some(addr);
        set.spawn(server);
    } else if let Some(addr) = config.metrics_addr {
        let (bound, server) = crate::observe::bind(probe, addr, cancel.clone())
            .await
            .map_err(|e| {
                StoreError::Invalid(format!(
                    "cannot listen on {addr} (PGDAG_METRICS_ADDR; off disables it): {e}"
                ))
            })?;
        metrics_addr = Some(bound);
        set.spawn(server);
    }
    Ok(Running {
        membership,
        wakeups,
        api_addr,
        metrics_addr,
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
