//! The server registry row of this process and its heartbeat. Owns the `pgdag.server` row
//! it inserted; writes `heartbeat_at` (database clock) and the number of running tasks
//! every `heartbeat_interval`; marks the row stopped on a clean shutdown. A failed
//! heartbeat is logged and retried at the next tick; it never stops the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{Store, servers};

pub async fn register(
    store: &Store,
    config: &Config,
    roles: &[String],
) -> crate::store::Result<i64> {
    let client = store.client().await?;
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into());
    servers::register(
        &client,
        &config.server_name,
        roles,
        &host,
        std::process::id() as i32,
        &config.worker_groups,
    )
    .await
}

pub async fn run(
    store: Store,
    server_id: i64,
    interval: std::time::Duration,
    running: Arc<AtomicUsize>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
        let count = running.load(Ordering::Relaxed) as i32;
        let result = async {
            let client = store.client().await?;
            servers::heartbeat(&client, server_id, count).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }
    if let Ok(client) = store.client().await {
        let _ = servers::stop(&client, server_id).await;
    }
}
