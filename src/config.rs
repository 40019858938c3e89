//! Process configuration from the environment (DESIGN §6), parsed once at start-up.

use std::net::SocketAddr;

use crate::model::Duration;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/pgdag";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";
/// Where a process without the api role serves `/metrics`, `/healthz` and `/readyz`.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration { millis: 2_000 };
pub const DEFAULT_DEAD_AFTER: Duration = Duration { millis: 10_000 };
/// The fallback poll of a process that listens: notifications wake its loops, the poll only
/// covers one that was lost.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration { millis: 30_000 };
/// The poll of a process that does not listen (`PGDAG_POLL_ONLY`): its only wake-up.
pub const DEFAULT_POLL_ONLY_INTERVAL: Duration = Duration { millis: 1_000 };
pub const DEFAULT_LEADER_RETRY: Duration = Duration { millis: 1_000 };
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration { millis: 30_000 };
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_SESSION_TTL: Duration = Duration {
    millis: 12 * 3_600_000,
};
/// A web session ends this long after its login, however active it is.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration {
    millis: 7 * 24 * 3_600_000,
};
/// Peers whose `X-Forwarded-For` is believed by default: a proxy on this host.
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1";
pub const DEFAULT_ALERT_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_ALERT_RETRY_BASE: Duration = Duration { millis: 2_000 };
pub const DEFAULT_ALERT_LEASE: Duration = Duration { millis: 60_000 };

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub http_addr: SocketAddr,
    pub worker_groups: Vec<String>,
    pub max_tasks: usize,
    pub heartbeat_interval: Duration,
    pub dead_after: Duration,
    /// Fallback poll of every loop when no notification arrives (jittered ±20 %).
    pub poll_interval: Duration,
    /// `<hostname>:<pid>` unless `PGDAG_SERVER_NAME` sets one; a task instance's `host`.
    pub server_name: String,
    /// Interpreter for `python` tasks.
    pub python: String,
    /// How often a master that is not the leader tries to become it.
    pub leader_retry: Duration,
    /// On SIGTERM, how long a worker lets running tasks finish before handing them back.
    pub shutdown_grace: Duration,
    /// Where a worker records the process groups of its running tasks, so that its next
    /// incarnation on this host can kill what a crash left behind.
    pub state_dir: std::path::PathBuf,
    /// Finished instances older than this are pruned by the leader.
    pub retention_days: u32,
    /// Do not LISTEN: every loop polls (for pools behind PgBouncer in transaction mode).
    pub poll_only: bool,
    /// Where a process without the api role serves `/metrics`, `/healthz` and `/readyz`
    /// (`PGDAG_METRICS_ADDR`; `None`: `off`). A process with the api role serves them on
    /// the api address instead.
    pub metrics_addr: Option<SocketAddr>,
    /// URL for the connections a process owns (LISTEN, advisory locks); default: the
    /// database URL.
    pub session_database_url: Option<String>,
    /// A web admin session ends after this long without a request.
    pub session_ttl: Duration,
    /// A web admin session ends this long after its login, however active.
    pub session_max_age: Duration,
    /// Peers (addresses or CIDR ranges) whose `X-Forwarded-For` is believed: the client is
    /// the rightmost address in it that is not one of them.
    pub trusted_proxies: Vec<Cidr>,
    /// When cookies get `Secure`.
    pub cookie_secure: CookieSecure,
    /// Base of the links in alerts (`{public_url}/instances/42`), without a trailing slash;
    /// default `http://` + the HTTP address.
    pub public_url: String,
    /// Attempts of one alert delivery before it is given up.
    pub alert_max_attempts: u32,
    /// Wait after a failed attempt: `base`, then doubling, at most 10 minutes.
    pub alert_retry_base: Duration,
    /// How long an alert process holds a claimed delivery; a send is given up after half
    /// of it, and a claim whose process died is taken again after it.
    pub alert_lease: Duration,
    /// Group that gets failover alerts and every alert that has no group of its own.
    pub alert_default_group: Option<String>,
    /// The "now" of every due decision: the database's (tests set a fixed one).
    pub clock: crate::clock::Clock,
    /// What of the worker's environment reaches tasks besides the fixed allow-list
    /// (`PGDAG_TASK_ENV_PASSTHROUGH`; see `tasks::env`).
    pub task_env_passthrough: crate::tasks::env::Passthrough,
    /// Private, loopback and link-local targets that `http` tasks and webhooks may reach
    /// (`PGDAG_HTTP_ALLOW`; see `tasks::net`).
    pub http_allow: crate::tasks::net::HttpAllow,
    /// Most bytes of one attempt's log kept (`PGDAG_TASK_LOG_MAX`); the rest is cut.
    pub task_log_max: u64,
    /// In-process attempts (`sql`, `procedure`, `http`) a worker runs at once
    /// (`PGDAG_MAX_ASYNC_TASKS`), besides its `max_tasks` process slots.
    pub max_async_tasks: usize,
    /// Connections a worker keeps at most to one datasource (`PGDAG_DATASOURCE_POOL_SIZE`).
    pub datasource_pool_size: usize,
    /// The longest list a mapped task (`foreach:`) may expand (`PGDAG_MAX_MAP_ITEMS`); a
    /// longer one fails the task.
    pub max_map_items: usize,
}

/// Default of `PGDAG_MAX_ASYNC_TASKS`.
pub const DEFAULT_MAX_ASYNC_TASKS: usize = 256;
/// Default of `PGDAG_MAX_MAP_ITEMS`.
pub const DEFAULT_MAX_MAP_ITEMS: usize = 10_000;
/// Default of `PGDAG_DATASOURCE_POOL_SIZE`.
pub const DEFAULT_DATASOURCE_POOL_SIZE: usize = 10;

/// Default of `PGDAG_TASK_LOG_MAX`: 64 MiB.
pub const DEFAULT_TASK_LOG_MAX: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("environment variable {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A positive count from 1 to 100,000, or the default when unset.
fn count_var(name: &'static str, default: usize) -> Result<usize, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| ConfigError {
                var: name,
                message: format!("{text:?} is not a number from 1 to 100000"),
            }),
    }
}

fn duration_var(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|e: crate::model::ParseDurationError| ConfigError {
                var: name,
                message: e.to_string(),
            }),
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let http_addr = var("PGDAG_HTTP_ADDR").unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_string());
        let http_addr = http_addr.parse().map_err(|_| ConfigError {
            var: "PGDAG_HTTP_ADDR",
            message: format!("{http_addr:?} is not an address like 127.0.0.1:8080"),
        })?;
        let worker_groups =
            parse_groups(&var("PGDAG_WORKER_GROUPS").unwrap_or_else(|| "default".into()));
        if worker_groups.is_empty() {
            return Err(ConfigError {
                var: "PGDAG_WORKER_GROUPS",
                message: "names no group".into(),
            });
        }
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let max_tasks = match var("PGDAG_MAX_TASKS") {
            None => cpus * 2,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(ConfigError {
                        var: "PGDAG_MAX_TASKS",
                        message: format!("{text:?} is not a positive number"),
                    });
                }
            },
        };
        let poll_only = match var("PGDAG_POLL_ONLY").as_deref().map(str::trim) {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "PGDAG_POLL_ONLY",
                    message: format!("{other:?} is not true or false"),
                });
            }
        };
        let max_async_tasks = count_var("PGDAG_MAX_ASYNC_TASKS", DEFAULT_MAX_ASYNC_TASKS)?;
        let datasource_pool_size =
            count_var("PGDAG_DATASOURCE_POOL_SIZE", DEFAULT_DATASOURCE_POOL_SIZE)?;
        let max_map_items = count_var("PGDAG_MAX_MAP_ITEMS", DEFAULT_MAX_MAP_ITEMS)?;
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into());
        let public_url = var("PGDAG_PUBLIC_URL")
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{http_addr}"));
        let alert_default_group = var("PGDAG_ALERT_DEFAULT_GROUP").map(|g| g.trim().to_string());
        if let Some(problem) = alert_default_group
            .as_deref()
            .and_then(crate::spec::name_problem)
        {
            return Err(ConfigError {
                var: "PGDAG_ALERT_DEFAULT_GROUP",
                message: problem,
            });
        }
        let task_env_passthrough = crate::tasks::env::Passthrough::parse(
            &var(crate::tasks::env::PASSTHROUGH_VAR).unwrap_or_default(),
        )
        .map_err(|message| ConfigError {
            var: crate::tasks::env::PASSTHROUGH_VAR,
            message,
        })?;
        let http_allow = crate::tasks::net::HttpAllow::parse(
            &var(crate::tasks::net::ALLOW_VAR).unwrap_or_default(),
        )
        .map_err(|message| ConfigError {
            var: crate::tasks::net::ALLOW_VAR,
            message,
        })?;
        let task_log_max = match var("PGDAG_TASK_LOG_MAX") {
            None => DEFAULT_TASK_LOG_MAX,
            Some(text) => parse_size(&text)
                .filter(|n| *n >= 1024)
                .ok_or_else(|| ConfigError {
                    var: "PGDAG_TASK_LOG_MAX",
                    message: format!(
                        "{text:?} is not a size of at least 1KiB (bytes, or with KiB, MiB, GiB)"
                    ),
                })?,
        };
        let config = Config {
            clock: crate::clock::Clock::database(),
            task_env_passthrough,
            http_allow,
            task_log_max,
            max_async_tasks,
            datasource_pool_size,
            max_map_items,
            public_url,
            alert_max_attempts: match var("PGDAG_ALERT_MAX_ATTEMPTS") {
                None => DEFAULT_ALERT_MAX_ATTEMPTS,
                Some(text) => text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| ConfigError {
                        var: "PGDAG_ALERT_MAX_ATTEMPTS",
                        message: format!("{text:?} is not a number from 1 to 100"),
                    })?,
            },
            alert_retry_base: duration_var("PGDAG_ALERT_RETRY_BASE", DEFAULT_ALERT_RETRY_BASE)?,
            alert_lease: duration_var("PGDAG_ALERT_LEASE", DEFAULT_ALERT_LEASE)?,
            alert_default_group,
            database_url: var("PGDAG_DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            http_addr,
            worker_groups,
            max_tasks,
            heartbeat_interval: duration_var(
                "PGDAG_HEARTBEAT_INTERVAL",
                DEFAULT_HEARTBEAT_INTERVAL,
            )?,
            dead_after: duration_var("PGDAG_DEAD_AFTER", DEFAULT_DEAD_AFTER)?,
            poll_interval: duration_var(
                "PGDAG_POLL_INTERVAL",
                if poll_only {
                    DEFAULT_POLL_ONLY_INTERVAL
                } else {
                    DEFAULT_POLL_INTERVAL
                },
            )?,
            server_name: var("PGDAG_SERVER_NAME")
                .unwrap_or_else(|| format!("{host}:{}", std::process::id())),
            python: var("PGDAG_PYTHON").unwrap_or_else(|| "python3".into()),
            leader_retry: duration_var("PGDAG_LEADER_RETRY", DEFAULT_LEADER_RETRY)?,
            shutdown_grace: duration_var("PGDAG_SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE)?,
            state_dir: var("PGDAG_STATE_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("pgdag-state")),
            poll_only,
            metrics_addr: match var("PGDAG_METRICS_ADDR")
                .unwrap_or_else(|| DEFAULT_METRICS_ADDR.to_string())
                .trim()
            {
                "off" => None,
                addr => Some(addr.parse().map_err(|_| ConfigError {
                    var: "PGDAG_METRICS_ADDR",
                    message: format!("{addr:?} is not an address like 127.0.0.1:9464, or off"),
                })?),
            },
            session_database_url: var("PGDAG_SESSION_DATABASE_URL"),
            session_ttl: duration_var("PGDAG_SESSION_TTL", DEFAULT_SESSION_TTL)?,
            session_max_age: duration_var("PGDAG_SESSION_MAX_AGE", DEFAULT_SESSION_MAX_AGE)?,
            trusted_proxies: Cidr::parse_list(
                &var("PGDAG_TRUSTED_PROXIES").unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.into()),
            )
            .map_err(|message| ConfigError {
                var: "PGDAG_TRUSTED_PROXIES",
                message,
            })?,
            cookie_secure: match var("PGDAG_COOKIE_SECURE").as_deref().map(str::trim) {
                None | Some("auto") => CookieSecure::Auto,
                Some("always") => CookieSecure::Always,
                Some(other) => {
                    return Err(ConfigError {
                        var: "PGDAG_COOKIE_SECURE",
                        message: format!("{other:?} is not auto or always"),
                    });
                }
            },
            retention_days: match var("PGDAG_RETENTION_DAYS") {
                None => DEFAULT_RETENTION_DAYS,
                Some(text) => {
                    text.trim()
                        .parse()
                        .ok()
                        .filter(|d| *d > 0)
                        .ok_or_else(|| ConfigError {
                            var: "PGDAG_RETENTION_DAYS",
                            message: format!("{text:?} is not a positive number of days"),
                        })?
                }
            },
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat_interval.millis == 0 {
            return Err(ConfigError {
                var: "PGDAG_HEARTBEAT_INTERVAL",
                message: "must be more than 0".into(),
            });
        }
        if self.dead_after <= self.heartbeat_interval {
            return Err(ConfigError {
                var: "PGDAG_DEAD_AFTER",
                message: format!(
                    "must be longer than the heartbeat interval ({})",
                    self.heartbeat_interval
                ),
            });
        }
        if self.leader_retry.millis < 10 {
            return Err(ConfigError {
                var: "PGDAG_LEADER_RETRY",
                message: "must be at least 10ms".into(),
            });
        }
        if self.session_ttl.millis < 60_000 {
            return Err(ConfigError {
                var: "PGDAG_SESSION_TTL",
                message: "must be at least 1m".into(),
            });
        }
        if self.session_max_age < self.session_ttl {
            return Err(ConfigError {
                var: "PGDAG_SESSION_MAX_AGE",
                message: format!(
                    "must be at least the idle lifetime PGDAG_SESSION_TTL ({})",
                    self.session_ttl
                ),
            });
        }
        if self.alert_retry_base.millis < 10 {
            return Err(ConfigError {
                var: "PGDAG_ALERT_RETRY_BASE",
                message: "must be at least 10ms".into(),
            });
        }
        if self.alert_lease.millis < 1_000 {
            return Err(ConfigError {
                var: "PGDAG_ALERT_LEASE",
                message: "must be at least 1s".into(),
            });
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError {
                var: "PGDAG_PUBLIC_URL",
                message: format!("{:?} must start with http:// or https://", self.public_url),
            });
        }
        if self.poll_interval.millis < 10 {
            return Err(ConfigError {
                var: "PGDAG_POLL_INTERVAL",
                message: "must be at least 10ms".into(),
            });
        }
        Ok(())
    }
}

/// When the session and login cookies carry `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When a trusted proxy says the browser used https (`X-Forwarded-Proto: https`).
    Auto,
    /// Always (the site is only ever served over https).
    Always,
}

/// An IP address range: `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    /// A comma-separated list; empty text is an empty list.
    pub fn parse_list(text: &str) -> Result<Vec<Cidr>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Cidr::parse)
            .collect()
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        // An IPv4 client seen through an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `1048576`, `512KiB`, `64MiB`, `1GiB` (also `K`, `M`, `G`, `KB`...: powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits].parse().ok()?;
    let unit = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(unit)
}

pub fn parse_groups(text: &str) -> Vec<String> {
    text.split(',')
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect()
}
