//! What every process tells an operator over HTTP: `/metrics` (Prometheus text), `/healthz`
//! (alive: the process answers) and `/readyz` (ready: the database answers, the process is
//! not fenced, the schema has every migration this binary carries; 503 with the reason
//! otherwise).
//!
//! A process with the api role answers these paths on its api address (`api::handle` hands
//! them here); any other process serves them alone on `PGDAG_METRICS_ADDR` ([`bind`]).
//! Scrapes read the database once per request (queue depth, live servers, and on the
//! leader instances and task instances by state); nothing here runs in a loop, so an idle
//! process costs no transactions for being observable.

use std::net::SocketAddr;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::{Method, Response, StatusCode};

use crate::cluster::Membership;
use crate::metrics::{self, Snapshot};
use crate::store::{self, Store, StoreError};

/// What the endpoints read: the store, and the membership when the process has one.
#[derive(Clone)]
pub struct Probe {
    store: Store,
    membership: Option<Membership>,
}

pub type Reply = Response<String>;

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field(
                "server_id",
                &self.membership.as_ref().map(|m| m.server_id()),
            )
            .finish()
    }
}

impl Probe {
    pub fn new(store: Store, membership: Option<Membership>) -> Probe {
        Probe { store, membership }
    }

    /// The exposition text: counters, histograms and the gauges read now.
    pub async fn metrics(&self) -> Result<String, StoreError> {
        let client = self.store.client().await?;
        let mut snapshot = Snapshot {
            queue_depth: store::queue::depth(&client).await?,
            live_servers: store::servers::live_by_role(&client).await?,
            ..Snapshot::default()
        };
        if metrics::LEADER.load(std::sync::atomic::Ordering::Relaxed) == 1 {
            let (instances, tasks) = store::cluster::state_counts(&client).await?;
            snapshot.instances = Some(instances);
            snapshot.task_instances = Some(tasks);
        }
        Ok(metrics::render(&snapshot))
    }

    /// `Ok` when ready, else the reason.
    pub async fn readiness(&self) -> Result<(), String> {
        let client = self
            .store
            .client()
            .await
            .map_err(|e| format!("database unreachable: {e}"))?;
        store::servers::ping(&client)
            .await
            .map_err(|e| format!("database unreachable: {e}"))?;
        if let Some(m) = &self.membership
            && !m.is_healthy()
        {
            return Err(format!(
                "fenced: server {} has had no heartbeat for PGDAG_DEAD_AFTER; it claims no work until its membership is restored",
                m.server_id()
            ));
        }
        let expected = store::schema_version_expected();
        let at = store::schema_version(&client)
            .await
            .map_err(|e| format!("migrations unknown: {e}"))?;
        if at < expected {
            return Err(format!(
                "migrations not current: the database is at version {at}, this binary needs {expected} (run pgdag migrate)"
            ));
        }
        Ok(())
    }

    /// The answer for `path`, or `None` when it is not one of the three.
    pub async fn answer(&self, method: &Method, path: &str) -> Option<Reply> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        Some(match path {
            "/healthz" => json_reply(StatusCode::OK, json!({"status": "ok"})),
            "/readyz" => match self.readiness().await {
                Ok(()) => json_reply(StatusCode::OK, json!({"status": "ready"})),
                Err(reason) => json_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "unready", "reason": reason}),
                ),
            },
            "/metrics" => match self.metrics().await {
                Ok(text) => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "text/plain; version=0.0.4")
                    .body(text)
                    .expect("a valid response"),
                Err(e) => json_reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "unavailable", "message": format!("metrics: {e}")}),
                ),
            },
            _ => return None,
        })
    }
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .expect("a valid response")
}

/// Bind `addr` (port 0 picks a free port) for a process without the api role; returns the
/// bound address and the server, which ends when `cancel` fires.
pub async fn bind(
    probe: Probe,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let routes = warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .then(move |method: Method, path: warp::path::FullPath| {
            let probe = probe.clone();
            async move {
                match probe.answer(&method, path.as_str()).await {
                    Some(reply) => reply,
                    None => json_reply(
                        StatusCode::NOT_FOUND,
                        json!({"error": "not_found", "message": format!("no route for {method} {}: this address serves /metrics, /healthz and /readyz", path.as_str())}),
                    ),
                }
            }
        });
    let server = warp::serve(routes)
        .incoming(listener)
        .graceful(async move { cancel.cancelled().await })
        .run();
    Ok((bound, server))
}
