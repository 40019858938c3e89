//! The api role: an HTTP server with the JSON REST API under `/api/v1` and `/healthz`.
//!
//! Owns nothing but its listening socket; every request reads or writes Postgres through
//! `store` (starting a run inserts a command, exactly as the SQL API does). Answers 503
//! while the database is unreachable and recovers by itself.

pub mod error;
pub mod rest;

use std::net::SocketAddr;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::store::Store;

/// Bind `addr` (port 0 picks a free port) and return the bound address and the server.
pub async fn bind(
    store: Store,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let routes = warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::body::content_length_limit(4 * 1024 * 1024))
        .and(warp::body::bytes())
        .then(
            move |method, path: warp::path::FullPath, query: String, auth, content_type, body: Bytes| {
                let store = store.clone();
                async move {
                    rest::handle(
                        &store,
                        rest::Request {
                            method,
                            path: path.as_str().to_string(),
                            query,
                            authorization: auth,
                            content_type,
                            body: body.to_vec(),
                        },
                    )
                    .await
                }
            },
        );
    let server = warp::serve(routes).incoming(listener).graceful(async move { cancel.cancelled().await }).run();
    Ok((bound, server))
}
