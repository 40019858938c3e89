//! `http`: one request; the task succeeds when the status is expected (any 2xx unless
//! `expect_status` says otherwise) and, with `expect_body_contains`, the body contains that
//! text. The body goes to the log (the first 64 KiB) and `out` picks out params from a JSON
//! body by path (`$.data.id`). This file is the worked example in docs/task-types.md.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;

use super::json_path;
use super::{Outcome, Problem, RunContext, Side, TaskPlugin};
use crate::model::TaskType;
use crate::spec::{HttpTask, TaskKind, TaskSpec, WorkflowSpec};

/// Time allowed for the whole request unless `request_timeout` says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Most of the body read (for the checks and out params); the rest is not read.
const BODY_MAX: usize = 4 * 1024 * 1024;
/// Most of the body shown in the log.
const LOG_BODY_MAX: usize = 64 * 1024;

pub struct Http;

/// Most redirects followed (with `follow_redirects: true`).
const MAX_REDIRECTS: usize = 10;

/// The client every `http` task of a worker shares (connection reuse). Its connections pass
/// the network guard (`tasks::net`) and it follows no redirect by itself.
pub fn client(allow: &super::net::HttpAllow) -> reqwest::Client {
    super::net::guarded_client(allow, Duration::from_secs(15), None)
}

impl TaskPlugin for Http {
    fn task_type(&self) -> TaskType {
        TaskType::Http
    }

    fn side(&self) -> Side {
        Side::Worker
    }

    fn expanded_keys(&self) -> &'static [&'static str] {
        &["url", "headers", "body", "expect_body_contains"]
    }

    fn validate(&self, task: &TaskSpec, _workflow: &WorkflowSpec) -> Vec<Problem> {
        let TaskKind::Http(http) = &task.kind else {
            return Vec::new();
        };
        http.out
            .iter()
            .filter_map(|(name, path)| {
                json_path::parse(path)
                    .err()
                    .map(|e| Problem::new("out", format!("out param {name}: {e}")))
            })
            .collect()
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(async move {
            let TaskKind::Http(http) = ctx.kind()? else {
                return Err("not an http task".into());
            };
            tokio::select! {
                outcome = request(ctx, &http) => outcome,
                _ = ctx.cancel.cancelled() => Err("cancelled".into()),
            }
        })
    }
}

async fn request(ctx: &RunContext, http: &HttpTask) -> Result<Outcome, String> {
    let method = reqwest::Method::from_bytes(http.method.as_str().as_bytes())
        .map_err(|e| format!("method {}: {e}", http.method))?;
    let timeout = http
        .request_timeout
        .map(|d| d.as_std())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
    let allow = &ctx.resources.config.http_allow;
    let mut url = reqwest::Url::parse(&http.url).map_err(|e| format!("url {}: {e}", http.url))?;
    let mut method = method;
    let mut body = http.body.clone();
    let mut headers = http.headers.clone();
    let mut hops = 0;
    let response = loop {
        // An address in the URL is checked here; a name when it is resolved.
        if let Err(reason) = super::net::check_url(&url, allow) {
            ctx.log(format!("[pgdag] {reason}\n"));
            return Ok(Outcome::failure(reason));
        }
        let mut request = ctx
            .resources
            .http
            .request(method.clone(), url.clone())
            .timeout(timeout);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if let Some(body) = &body {
            request = request.body(body.clone());
        }
        ctx.log(format!("[pgdag] {method} {url}\n"));
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                if let Some(refused) = super::net::refusal(&e) {
                    ctx.log(format!("[pgdag] {refused}\n"));
                    return Ok(Outcome::failure(refused.to_string()));
                }
                return Err(request_error(&e));
            }
        };
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let (true, Some(location)) = (response.status().is_redirection(), location) else {
            break response;
        };
        if !http.follow_redirects {
            ctx.log(format!(
                "[pgdag] redirect to {location} not followed (the task does not say follow_redirects: true)\n"
            ));
            break response;
        }
        hops += 1;
        if hops > MAX_REDIRECTS {
            return Ok(Outcome::failure(format!(
                "more than {MAX_REDIRECTS} redirects"
            )));
        }
        let next = url
            .join(&location)
            .map_err(|e| format!("redirect to {location:?}: {e}"))?;
        let status = response.status().as_u16();
        ctx.log(format!("[pgdag] status {status}, redirected to {next}\n"));
        // As browsers do: 303 (and 301/302 after a POST) become a GET without a body.
        if status == 303 || (matches!(status, 301 | 302) && method == reqwest::Method::POST) {
            method = reqwest::Method::GET;
            body = None;
        }
        // Credentials stay with the origin they were written for.
        if next.origin() != url.origin() {
            headers.retain(|name, _| {
                !matches!(
                    name.to_ascii_lowercase().as_str(),
                    "authorization" | "cookie" | "proxy-authorization"
                )
            });
        }
        url = next;
    };
    let status = response.status().as_u16();
    ctx.log(format!("[pgdag] status {status}\n"));
    let mut body = Vec::new();
    let mut truncated = false;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| request_error(&e))?;
        let room = BODY_MAX - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body);
    let shown: String = if text.len() > LOG_BODY_MAX {
        let mut end = LOG_BODY_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!(
            "{}\n[pgdag] ... body cut at {LOG_BODY_MAX} bytes in the log\n",
            &text[..end]
        )
    } else if text.ends_with('\n') || text.is_empty() {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    ctx.log(shown);

    let status_ok = match &http.expect_status {
        Some(expected) => expected.matches(status),
        None => (200..300).contains(&status),
    };
    if !status_ok {
        let expected = match &http.expect_status {
            Some(e) => serde_json::to_string(e).unwrap_or_default(),
            None => "2xx".into(),
        };
        return Ok(Outcome::failure(format!(
            "status {status} is not the expected {expected}"
        )));
    }
    if let Some(needle) = &http.expect_body_contains
        && !text.contains(needle.as_str())
    {
        return Ok(Outcome::failure(format!(
            "the response body does not contain {needle:?}{}",
            if truncated {
                " (in its first 4 MiB)"
            } else {
                ""
            }
        )));
    }
    let mut outcome = Outcome::success();
    if !http.out.is_empty() {
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("out params need a JSON body: {e}"))?;
        for (name, path) in &http.out {
            let path = json_path::parse(path).map_err(|e| format!("out param {name}: {e}"))?;
            let value = path
                .get(&json)
                .ok_or_else(|| format!("out param {name}: {path} is not in the response"))?;
            let value = json_path::to_param_text(value);
            ctx.log(format!("[pgdag] out param {name} = {value}\n"));
            outcome.out_params.insert(name.clone(), value);
        }
    }
    Ok(outcome)
}

/// A request error with its causes (connection refused, timeout, TLS...).
fn request_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "the request timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
