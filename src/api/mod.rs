//! The api role: an HTTP server with the JSON REST API under `/api/v1` and `/healthz`.
//!
//! Owns nothing but its listening socket; every request reads or writes Postgres through
//! `store` (starting a run inserts a command, exactly as the SQL API does). Answers 503
//! while the database is unreachable and recovers by itself.

pub mod alerts;
pub mod error;
pub mod rest;

use std::net::SocketAddr;

use bytes::Buf;
use futures_util::{Stream, StreamExt};
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
        .and(warp::body::stream())
        .then(
            move |method, path: warp::path::FullPath, query: String, auth, content_type, body| {
                let store = store.clone();
                async move {
                    let body = match read_body(body).await {
                        Ok(body) => body,
                        Err(e) => return rest::error_reply(e),
                    };
                    rest::handle(
                        &store,
                        rest::Request {
                            method,
                            path: path.as_str().to_string(),
                            query,
                            authorization: auth,
                            content_type,
                            body,
                        },
                    )
                    .await
                }
            },
        );
    let server = warp::serve(routes)
        .incoming(listener)
        .graceful(async move { cancel.cancelled().await })
        .run();
    Ok((bound, server))
}

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Collect the body up to `MAX_BODY_BYTES` (with or without a Content-Length header).
async fn read_body(
    mut stream: impl Stream<Item = Result<impl Buf, warp::Error>> + Unpin,
) -> Result<Vec<u8>, error::ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk =
            chunk.map_err(|e| error::ApiError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(error::ApiError::new(
                warp::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(body)
}
