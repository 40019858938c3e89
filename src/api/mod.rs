//! The api role: one HTTP server with the JSON REST API under `/api/v1`, `/healthz`,
//! `/readyz` and `/metrics` (answered by `observe`), the server-rendered web admin under `/`, and its static files under
//! `/static`.
//!
//! Owns nothing but its listening socket; every request reads or writes Postgres through
//! `store` (starting a run inserts a command, exactly as the SQL API does). Answers 503
//! while the database is unreachable and recovers by itself.

pub mod assets;
pub mod auth;
pub mod error;
pub mod hook;
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
    /// The clock of due decisions (a schedule added here is first due at its `now`).
    pub clock: crate::clock::Clock,
    /// A web session ends this long after its login, however active.
    pub session_max_age: std::time::Duration,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<crate::config::Cidr>,
    /// When cookies get `Secure`.
    pub cookie_secure: crate::config::CookieSecure,
    /// What `/metrics`, `/healthz` and `/readyz` read (the process's membership); `None`:
    /// the store alone (readiness then cannot see fencing).
    pub probe: Option<crate::observe::Probe>,
}

impl Settings {
    /// The settings of a process configured by `config`.
    pub fn from_config(config: &crate::config::Config) -> Settings {
        Settings {
            session_ttl: config.session_ttl.as_std(),
            clock: config.clock.clone(),
            session_max_age: config.session_max_age.as_std(),
            trusted_proxies: config.trusted_proxies.clone(),
            cookie_secure: config.cookie_secure,
            probe: None,
        }
    }
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

    /// True when the peer is a trusted proxy and it says the browser used https.
    pub fn is_https(&self, trusted: &[crate::config::Cidr]) -> bool {
        self.peer_trusted(trusted)
            && self
                .header("x-forwarded-proto")
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }

    fn peer_trusted(&self, trusted: &[crate::config::Cidr]) -> bool {
        self.remote
            .is_some_and(|a| trusted.iter().any(|c| c.contains(a.ip())))
    }

    /// The client's address, for login throttling and the audit trail. `X-Forwarded-For`
    /// is read only when the peer is a trusted proxy, and then from the right: each proxy
    /// appends the address it saw, so the rightmost address that is not a trusted proxy is
    /// the first one a client could not write. (The leftmost is whatever the client sent.)
    pub fn client_addr(&self, trusted: &[crate::config::Cidr]) -> String {
        let Some(peer) = self.remote.map(|a| a.ip()) else {
            return "unknown".into();
        };
        if !self.peer_trusted(trusted) {
            return peer.to_string();
        }
        let hops: Vec<&str> = self
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut client = peer.to_string();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if trusted.iter().any(|c| c.contains(ip)) => client = ip.to_string(),
                Some(ip) => return ip.to_string(),
                // Not an address: written by someone untrusted, so it names the client
                // (cut short: it is a throttling key).
                None => return hop.chars().take(64).collect(),
            }
        }
        client
    }

    /// `application/x-www-form-urlencoded` or query-string pairs, decoded.
    pub fn form(&self) -> std::collections::HashMap<String, String> {
        url_decode_pairs(&String::from_utf8_lossy(&self.body))
    }

    pub fn query_map(&self) -> std::collections::HashMap<String, String> {
        url_decode_pairs(&self.query)
    }
}

/// One `X-Forwarded-For` element: an address, possibly with a port (`[::1]:80`, `a.b.c.d:80`).
fn parse_hop(hop: &str) -> Option<std::net::IpAddr> {
    hop.parse()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

pub type Reply = Response<String>;

/// A body sent as it is produced (a log download), carried on a [`Reply`] as an extension:
/// the reply's own `String` stays empty and `bind` sends these pieces in its place. An
/// error ends the body early (the client sees a cut transfer, never a wrong whole).
#[derive(Clone)]
pub struct Streamed(
    std::sync::Arc<
        std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<crate::store::Result<String>>>>,
    >,
);

impl Streamed {
    /// A reply with `head`'s status and headers whose body is what `pieces` yields.
    pub fn reply(
        head: warp::http::response::Builder,
        pieces: tokio::sync::mpsc::Receiver<crate::store::Result<String>>,
    ) -> Reply {
        head.extension(Streamed(std::sync::Arc::new(std::sync::Mutex::new(Some(
            pieces,
        )))))
        .body(String::new())
        .expect("a valid response")
    }
}

/// The reply as warp sends it: whole, or streamed when it carries a [`Streamed`] body.
fn into_warp(mut reply: Reply) -> warp::reply::Response {
    use warp::Reply as _;
    let pieces = reply
        .extensions_mut()
        .remove::<Streamed>()
        .and_then(|s| s.0.lock().ok()?.take());
    let Some(mut pieces) = pieces else {
        return reply.into_response();
    };
    let stream = futures_util::stream::poll_fn(move |cx| {
        pieces.poll_recv(cx).map(|piece| {
            piece.map(|p| {
                p.map(bytes::Bytes::from).map_err(|e| {
                    tracing::warn!("a streamed reply ends early: {e}");
                    std::io::Error::other(e)
                })
            })
        })
    });
    let body = warp::reply::stream(stream).into_response().into_body();
    let (head, _) = reply.into_parts();
    Response::from_parts(head, body)
}

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
                        Err(e) => return into_warp(rest::error_reply(e)),
                    };
                    let request = Request {
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        remote,
                        body,
                    };
                    into_warp(handle(&store, &settings, request).await)
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
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        let probe = match &settings.probe {
            Some(probe) => probe.clone(),
            None => crate::observe::Probe::new(store.clone(), None),
        };
        if let Some(reply) = probe.answer(&request.method, path).await {
            return reply;
        }
    }
    if path.starts_with("/api/") {
        return rest::handle(store, settings, request).await;
    }
    if let Some(token) = path.strip_prefix("/hooks/") {
        return hook::handle(store, settings, &request, token).await;
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

    fn forwarded(peer: &str, xff: &[&str], proto: Option<&str>) -> Request {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        if let Some(proto) = proto {
            headers.append("x-forwarded-proto", proto.parse().unwrap());
        }
        Request {
            method: Method::GET,
            path: "/".into(),
            query: String::new(),
            headers,
            remote: Some(peer.parse().unwrap()),
            body: Vec::new(),
        }
    }

    #[test]
    fn the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy() {
        let trusted = crate::config::Cidr::parse_list("127.0.0.0/8,10.0.0.0/8,::1").unwrap();
        // A client that writes its own X-Forwarded-For cannot choose its address.
        let r = forwarded("127.0.0.1:5000", &["6.6.6.6, 203.0.113.9"], None);
        assert_eq!(r.client_addr(&trusted), "203.0.113.9");
        // Trusted hops are skipped, across repeated headers.
        let r = forwarded(
            "127.0.0.1:5000",
            &["6.6.6.6, 203.0.113.9", "10.1.2.3"],
            None,
        );
        assert_eq!(r.client_addr(&trusted), "203.0.113.9");
        // An untrusted peer's header is ignored.
        let r = forwarded("198.51.100.4:5000", &["10.1.2.3"], Some("https"));
        assert_eq!(r.client_addr(&trusted), "198.51.100.4");
        assert!(!r.is_https(&trusted));
        // No header: the peer.
        let r = forwarded("127.0.0.1:5000", &[], Some("https"));
        assert_eq!(r.client_addr(&trusted), "127.0.0.1");
        assert!(r.is_https(&trusted));
        // Every hop trusted: the leftmost (the furthest proxy).
        let r = forwarded("127.0.0.1:5000", &["10.0.0.1, 10.0.0.2"], None);
        assert_eq!(r.client_addr(&trusted), "10.0.0.1");
        // Ports and garbage.
        let r = forwarded("[::1]:5000", &["[2001:db8::1]:443"], None);
        assert_eq!(r.client_addr(&trusted), "2001:db8::1");
        let r = forwarded("127.0.0.1:5000", &["1.2.3.4, not-an-address"], None);
        assert_eq!(r.client_addr(&trusted), "not-an-address");
        // Nothing trusted: always the peer.
        let r = forwarded("127.0.0.1:5000", &["203.0.113.9"], None);
        assert_eq!(r.client_addr(&[]), "127.0.0.1");
    }

    #[test]
    fn cidr_ranges_match_their_addresses() {
        use crate::config::Cidr;
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.255.1.2".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Cidr::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        assert_eq!(Cidr::parse_list(" ").unwrap(), vec![]);
    }
}
