//! A webhook receiver: a warp server on port 0 that records every JSON `POST /hook` with
//! its headers and answers 200.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Hook {
    pub headers: HashMap<String, String>,
    pub body: serde_json::Value,
}

pub struct Hooks {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Hook>>>,
}

impl Hooks {
    pub async fn start() -> Hooks {
        use warp::Filter;
        let received: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let store = received.clone();
        let route = warp::post()
            .and(warp::path("hook"))
            .and(warp::header::headers_cloned())
            .and(warp::body::json())
            .map(
                move |headers: warp::http::HeaderMap, body: serde_json::Value| {
                    let headers = headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_string(),
                                v.to_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    store.lock().unwrap().push(Hook { headers, body });
                    warp::reply::with_status("thanks", warp::http::StatusCode::OK)
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        Hooks { addr, received }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Hook> {
        self.received.lock().unwrap().clone()
    }

    /// Wait until a hook of `kind` arrived; panics after `timeout`.
    pub async fn wait_kind(&self, kind: &str, timeout: Duration) -> Hook {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(h) = self.received().into_iter().find(|h| h.body["kind"] == kind) {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "no webhook of kind {kind} within {timeout:?}; got {:?}",
                self.received()
                    .iter()
                    .map(|h| h.body["kind"].clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
