//! The api role: one HTTP server with the JSON REST API under `/api/v1`, `/healthz` and
//! `/metrics`, the server-rendered web admin under `/`, and its static files under
//! `/static`.
//!
//! Owns nothing but its listening socket; every request reads or writes Postgres through
//! `store` (starting a run inserts a command, exactly as the SQL API does). Answers 503
//! while the database is unreachable and recovers by itself.

pub mod assets;
pub mod auth;
pub mod error;
pub mod pages;
pub mod references;
pub mod rest;
pub mod ui;

use std::net::SocketAddr;

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::{HeaderMap, Method, Response};

use crate::store::Store;

/// What the HTTP server needs besides the store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A web session ends after this long without a request.
    pub session_ttl: std::time::Duration,
}

/// One HTTP request, read whole (bodies are small: YAML, JSON, forms).
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub remote: Option<SocketAddr>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of a cookie sent with the request.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    /// True when a TLS-terminating proxy in front says the browser used https.
    pub fn is_https(&self) -> bool {
        self.header("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
    }

    /// The client address for login throttling. `X-Forwarded-For` is believed only from a
    /// proxy on this host (a loopback peer): anyone else could send any address in it.
    pub fn remote_text(&self) -> String {
        let peer = self.remote.map(|a| a.ip());
        if peer.is_some_and(|ip| ip.is_loopback())
            && let Some(first) = self
                .header("x-forwarded-for")
                .and_then(|f| f.split(',').next())
                .map(str::trim)
                .filter(|f| !f.is_empty())
        {
            return first.to_string();
        }
        peer.map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into())
    }

    /// `application/x-www-form-urlencoded` or query-string pairs, decoded.
    pub fn form(&self) -> std::collections::HashMap<String, String> {
        url_decode_pairs(&String::from_utf8_lossy(&self.body))
    }

    pub fn query_map(&self) -> std::collections::HashMap<String, String> {
        url_decode_pairs(&self.query)
    }
}

pub type Reply = Response<String>;

/// Bind `addr` (port 0 picks a free port) and return the bound address and the server.
pub async fn bind(
    store: Store,
    settings: Settings,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let routes = warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(
            move |method, path: warp::path::FullPath, query: String, headers, remote, body| {
                let store = store.clone();
                let settings = settings.clone();
                async move {
                    let body = match read_body(body).await {
                        Ok(body) => body,
                        Err(e) => return rest::error_reply(e),
                    };
                    let request = Request {
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        remote,
                        body,
                    };
                    handle(&store, &settings, request).await
                }
            },
        );
    let server = warp::serve(routes)
        .incoming(listener)
        .graceful(async move { cancel.cancelled().await })
        .run();
    Ok((bound, server))
}

/// Static files, the JSON API, or a page of the web admin.
pub async fn handle(store: &Store, settings: &Settings, request: Request) -> Reply {
    let path = request.path.as_str();
    if let Some(file) = path.strip_prefix("/static/") {
        return assets::serve(file);
    }
    if path.starts_with("/api/") || path == "/healthz" || path == "/metrics" {
        return rest::handle(store, settings, request).await;
    }
    ui::handle(store, settings, request).await
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

/// Decode `a=1&b=x%20y` (form encoding) into a map; the last value of a key wins.
pub fn url_decode_pairs(query: &str) -> std::collections::HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Every value of a repeated key, in order (checkboxes: `node=a&node=b`).
pub fn all_values(encoded: &str, key: &str) -> Vec<String> {
    encoded
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode a path segment or query value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let q = url_decode_pairs("after=3&name=a%20b+c&x=%zz&empty");
        assert_eq!(q["after"], "3");
        assert_eq!(q["name"], "a b c");
        assert_eq!(q["x"], "%zz");
        assert_eq!(q["empty"], "");
    }

    #[test]
    fn repeated_keys_keep_every_value() {
        assert_eq!(all_values("n=a&m=x&n=b%20c", "n"), vec!["a", "b c"]);
        assert!(all_values("", "n").is_empty());
    }

    #[test]
    fn percent_encoding_round_trips() {
        for text in ["plain", "a b/c?d=e&f", "ünï", "%", ""] {
            assert_eq!(percent_decode(&percent_encode(text)), text);
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", "a=1; pgdag_session=s3cret".parse().unwrap());
        headers.append("cookie", "b=2".parse().unwrap());
        let request = Request {
            method: Method::GET,
            path: "/".into(),
            query: String::new(),
            headers,
            remote: None,
            body: Vec::new(),
        };
        assert_eq!(request.cookie("pgdag_session"), Some("s3cret"));
        assert_eq!(request.cookie("b"), Some("2"));
        assert_eq!(request.cookie("c"), None);
    }
}
