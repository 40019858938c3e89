//! The web admin: server-rendered HTML pages (askama templates in `templates/`), enhanced by
//! htmx where it helps (live refresh, the cron preview) and readable without JavaScript.
//!
//! Every page needs a signed-in user (an anonymous request is sent to `/login`) and checks
//! project access like the REST API does; every state-changing form carries the session's
//! CSRF token. Handlers only load data through `store`, fill a page struct
//! (`api::pages`) and render it. Owns no state.

mod admin;
pub(crate) use admin::parse_lifetime;
mod audit;
mod home;
mod import;
mod instances;
mod manage;
mod schedules;
mod tenants;
mod variables;
mod workflows;

use askama::Template;
use warp::http::{Method, Response, StatusCode};

use super::auth::{self, Principal};
use super::error::ApiError;
use super::pages::{ErrorPage, LoginPage, Nav};
use super::{Reply, Request, Settings, assets, percent_decode, percent_encode};
use crate::store::Store;

pub async fn handle(store: &Store, settings: &Settings, request: Request) -> Reply {
    let segments: Vec<String> = request
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&request.method, segments.as_slice()) {
        (&Method::GET, ["login"]) => return login_page(&request, settings, None, "", 200),
        (&Method::GET, ["favicon.ico"]) => return assets::serve("favicon.svg"),
        (&Method::POST, ["login"]) => return login(store, settings, &request).await,
        _ => {}
    }
    let who = match auth::principal(store, &request, settings).await {
        Ok(Some(who)) => who,
        Ok(None) => return to_login(&request),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return to_login(&request),
        Err(e) => return error_page(None, e),
    };
    if request.method != Method::GET && request.method != Method::HEAD {
        let form = request.form();
        if let Err(e) = who.check_csrf(&request, form.get("csrf").map(String::as_str)) {
            return error_page(Some(&who), e);
        }
    }
    let ctx = Ctx {
        store,
        request: &request,
        who: &who,
        now: settings.clock.now(),
    };
    let result = match (&request.method, segments.as_slice()) {
        (&Method::POST, ["logout"]) => logout(store, settings, &request).await,
        (&Method::GET, []) => home::home(&ctx).await,
        (&Method::GET, ["projects"]) => home::projects(&ctx).await,
        (&Method::GET, ["servers"]) => home::servers(&ctx).await,
        (&Method::GET, ["projects", project]) => workflows::project(&ctx, project).await,
        (&Method::GET, ["projects", project, "import"]) => import::page(&ctx, project).await,
        (&Method::GET, ["projects", project, "delete"]) => {
            manage::confirm(&ctx, project, None).await
        }
        (&Method::POST, ["projects", project, "delete"]) => {
            manage::delete_project(&ctx, project).await
        }
        (
            &Method::POST,
            [
                "projects",
                project,
                "workflows",
                workflow,
                to @ ("online" | "offline"),
            ],
        ) => manage::release(&ctx, project, workflow, to).await,
        (&Method::GET, ["projects", project, "workflows", workflow, "delete"]) => {
            manage::confirm(&ctx, project, Some(workflow)).await
        }
        (&Method::POST, ["projects", project, "workflows", workflow, "delete"]) => {
            manage::delete_workflow(&ctx, project, workflow).await
        }
        (&Method::POST, ["projects", project, "import"]) => import::submit(&ctx, project).await,
        (&Method::GET, ["projects", project, "variables"]) => variables::page(&ctx, project).await,
        (&Method::POST, ["projects", project, "variables"]) => variables::save(&ctx, project).await,
        (&Method::POST, ["projects", project, "secrets"]) => {
            variables::set_secret(&ctx, project).await
        }
        (&Method::POST, ["projects", project, "secrets", "delete"]) => {
            variables::delete_secret(&ctx, project).await
        }
        (&Method::POST, ["projects", project, "hooks"]) => {
            variables::create_hook(&ctx, project).await
        }
        (&Method::POST, ["projects", project, "hooks", id, "revoke"]) => {
            variables::revoke_hook(&ctx, project, id).await
        }
        (&Method::GET, ["projects", project, "workflows", workflow]) => {
            workflows::workflow(&ctx, project, workflow).await
        }
        (&Method::POST, ["projects", project, "workflows", workflow, "run"]) => {
            workflows::run(&ctx, project, workflow).await
        }
        (&Method::POST, ["projects", project, "workflows", workflow, "edit"]) => {
            workflows::edit(&ctx, project, workflow).await
        }
        (&Method::GET, ["projects", project, "workflows", workflow, "diff"]) => {
            workflows::diff(&ctx, project, workflow).await
        }
        (
            &Method::POST,
            [
                "projects",
                project,
                "workflows",
                workflow,
                "versions",
                version,
                "switch",
            ],
        ) => workflows::switch(&ctx, project, workflow, version).await,
        (&Method::GET, ["instances"]) => instances::list(&ctx).await,
        (&Method::GET, ["instances", id]) => instances::instance(&ctx, id).await,
        (&Method::POST, ["instances", id, action]) => instances::control(&ctx, id, action).await,
        (&Method::POST, ["task-instances", id, "force-success"]) => {
            instances::force_success(&ctx, id).await
        }
        (&Method::POST, ["task-instances", id, "retry"]) => instances::retry_task(&ctx, id).await,
        (&Method::POST, ["task-instances", id, "hold"]) => {
            instances::hold_task(&ctx, id, true).await
        }
        (&Method::POST, ["task-instances", id, "release"]) => {
            instances::hold_task(&ctx, id, false).await
        }
        (&Method::GET, ["task-instances", id, "log"]) => instances::log(&ctx, id).await,
        (&Method::GET, ["schedules"]) => schedules::page(&ctx).await,
        (&Method::GET, ["schedules", "preview"]) => schedules::preview(&ctx).await,
        (&Method::POST, ["schedules"]) => schedules::create(&ctx).await,
        (&Method::POST, ["schedules", id, action]) => schedules::change(&ctx, id, action).await,
        (&Method::GET, ["audit"]) => audit::page(&ctx).await,
        (&Method::GET, ["admin", "users"]) => admin::users(&ctx, None, None).await,
        (&Method::POST, ["admin", "users"]) => admin::add_user(&ctx).await,
        (&Method::POST, ["admin", "users", "password"]) => admin::set_password(&ctx).await,
        (&Method::POST, ["admin", "users", "delete"]) => admin::delete_user(&ctx).await,
        (&Method::POST, ["admin", "members"]) => admin::grant(&ctx).await,
        (&Method::POST, ["admin", "members", "delete"]) => admin::revoke_membership(&ctx).await,
        (&Method::GET, ["admin", "tenants"]) => tenants::page(&ctx, None, None).await,
        (&Method::POST, ["admin", "tenants"]) => tenants::save(&ctx).await,
        (&Method::POST, ["admin", "tenants", "delete"]) => tenants::delete(&ctx).await,
        (&Method::GET, ["admin", "tokens"]) => admin::tokens(&ctx, None, None).await,
        (&Method::POST, ["admin", "tokens"]) => admin::create_token(&ctx).await,
        (&Method::POST, ["admin", "tokens", id, "revoke"]) => admin::revoke_token(&ctx, id).await,
        _ => Err(ApiError::not_found(format!(
            "no page {} {}",
            request.method, request.path
        ))),
    };
    result.unwrap_or_else(|e| error_page(Some(&who), e))
}

/// What every handler gets.
pub(crate) struct Ctx<'a> {
    pub store: &'a Store,
    pub request: &'a Request,
    pub who: &'a Principal,
    /// The `$now` of time-dependent statements (the process's clock).
    pub now: crate::store::Now,
}

impl Ctx<'_> {
    pub fn nav(&self, section: &'static str) -> Nav {
        nav(self.who, section)
    }
    pub async fn client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        Ok(self.store.client().await?)
    }
}

fn nav(who: &Principal, section: &'static str) -> Nav {
    Nav {
        user: who.user.name.clone(),
        is_admin: who.user.is_admin,
        csrf: who.csrf_token().to_string(),
        section,
        htmx: assets::HTMX,
        css: assets::CSS,
        js: assets::JS,
    }
}

pub(crate) fn render(page: &impl Template) -> Result<Reply, ApiError> {
    let body = page
        .render()
        .map_err(|e| ApiError::internal(&format!("rendering the page: {e}")))?;
    Ok(html(StatusCode::OK, body))
}

pub(crate) fn html(status: StatusCode, body: String) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-frame-options", "DENY")
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .body(body)
        .expect("a valid response")
}

/// Pages run only this site's script and style files: no inline script, handler or style
/// attribute (the templates use `data-confirm` and `<progress>`), no eval (htmx's is off in
/// `base.html`), no framing, forms only to this site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// 303 See Other: after a form post, the browser GETs `location`.
pub(crate) fn redirect(location: &str) -> Reply {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", location)
        .header("cache-control", "no-store")
        .body(String::new())
        .expect("a valid response")
}

fn error_page(who: Option<&Principal>, e: ApiError) -> Reply {
    let title = e.status.canonical_reason().unwrap_or("Error").to_string();
    let Some(who) = who else {
        return html(
            e.status,
            format!(
                "<!doctype html><title>{title}</title><p>{}</p>",
                escape(&e.message)
            ),
        );
    };
    let page = ErrorPage {
        nav: nav(who, ""),
        status: e.status.as_u16(),
        title,
        message: e.message.clone(),
    };
    match page.render() {
        Ok(body) => html(e.status, body),
        Err(_) => html(e.status, escape(&e.message)),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An anonymous request goes to the login page (and comes back after it, for a page); an
/// htmx fragment gets a 401 that htmx turns into a full redirect.
fn to_login(request: &Request) -> Reply {
    let mut next = request.path.clone();
    if !request.query.is_empty() {
        next.push('?');
        next.push_str(&request.query);
    }
    let location = format!("/login?next={}", percent_encode(&next));
    if request.header("hx-request").is_none() {
        return redirect(&location);
    }
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("hx-redirect", &location)
        .header("content-type", "text/plain; charset=utf-8")
        .body("log in first\n".into())
        .expect("a valid response")
}

/// Only local paths may follow a login: never another site. A path is `/` followed by
/// something other than `/` or `\` (browsers read `//host`, `/\host` and, since they drop
/// tabs and newlines, `/\t/host` as another site), with no control character, white space
/// or backslash anywhere. Characters outside ASCII are percent-encoded, so the `Location`
/// header is always valid. Anything else goes to `/`.
fn safe_next(next: &str) -> String {
    let rest = match next.strip_prefix('/') {
        Some(rest) => rest,
        None => return "/".into(),
    };
    if rest.starts_with('/')
        || next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    {
        return "/".into();
    }
    let mut out = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn login_page(
    request: &Request,
    settings: &Settings,
    error: Option<String>,
    name: &str,
    status: u16,
) -> Reply {
    let next = request.query_map().get("next").cloned().unwrap_or_default();
    let next = if next.is_empty() {
        request.form().get("next").cloned().unwrap_or_default()
    } else {
        next
    };
    // Keep the token this browser already has: another tab (or a favicon request sent to
    // the login page) must not invalidate the form on screen.
    let token = request
        .cookie(auth::LOGIN_COOKIE)
        .map(str::to_string)
        .unwrap_or_else(crate::store::users::random_secret);
    let page = LoginPage {
        css: assets::CSS,
        login_token: token.clone(),
        name: name.to_string(),
        next: safe_next(&next),
        error,
    };
    let mut reply = match page.render() {
        Ok(body) => html(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body),
        Err(e) => {
            let e = ApiError::internal(&format!("rendering the login page: {e}"));
            html(e.status, escape(&e.message))
        }
    };
    if let Ok(value) =
        auth::cookie(request, settings, auth::LOGIN_COOKIE, &token, Some(3600)).parse()
    {
        reply.headers_mut().append("set-cookie", value);
    }
    reply
}

async fn login(store: &Store, settings: &Settings, request: &Request) -> Reply {
    let form = request.form();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let name = field("name").trim();
    // Double submit: the form's token must be the one this browser's cookie carries.
    let expected = request.cookie(auth::LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || field("login_token") != expected {
        return login_page(
            request,
            settings,
            Some("The login form expired; please log in again.".into()),
            name,
            403,
        );
    }
    let remote = request.client_addr(&settings.trusted_proxies);
    match auth::login(
        store,
        name,
        field("password"),
        &remote,
        settings.session_ttl,
    )
    .await
    {
        Ok(Ok((secret, _))) => {
            let mut reply = redirect(&safe_next(field("next")));
            let headers = reply.headers_mut();
            for cookie in [
                auth::session_cookie(request, settings, &secret),
                auth::cleared_cookie(request, settings, auth::LOGIN_COOKIE),
            ] {
                if let Ok(value) = cookie.parse() {
                    headers.append("set-cookie", value);
                }
            }
            reply
        }
        Ok(Err(auth::LoginRefused::BadCredentials)) => login_page(
            request,
            settings,
            Some("Wrong user name or password.".into()),
            name,
            401,
        ),
        Ok(Err(auth::LoginRefused::Throttled(wait))) => login_page(
            request,
            settings,
            Some(format!(
                "Too many failed logins. Try again in {} minutes.",
                wait.as_secs().div_ceil(60).max(1)
            )),
            name,
            429,
        ),
        Err(e) => login_page(request, settings, Some(e.message), name, e.status.as_u16()),
    }
}

async fn logout(store: &Store, settings: &Settings, request: &Request) -> Result<Reply, ApiError> {
    if let Some(secret) = request.cookie(auth::SESSION_COOKIE) {
        let client = store.client().await?;
        crate::store::sessions::delete(&client, secret).await?;
    }
    let mut reply = redirect("/login");
    if let Ok(value) = auth::cleared_cookie(request, settings, auth::SESSION_COOKIE).parse() {
        reply.headers_mut().append("set-cookie", value);
    }
    Ok(reply)
}

pub(crate) fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not an id")))
}

/// The page of a workflow.
pub(crate) fn workflow_href(project: &str, workflow: &str) -> String {
    format!(
        "/projects/{}/workflows/{}",
        percent_encode(project),
        percent_encode(workflow)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_a_login() {
        assert_eq!(safe_next("/instances/3"), "/instances/3");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
        assert_eq!(safe_next("/"), "/");
    }

    #[test]
    fn a_tab_newline_or_space_cannot_smuggle_another_site() {
        // Browsers drop tabs and newlines: `/\t/evil.example` would become `//evil.example`.
        for next in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
            "/a\\b",
            "\\\\evil.example",
            "/\u{0}x",
            "/\u{7f}x",
            "/\u{2028}/evil.example",
        ] {
            assert_eq!(safe_next(next), "/", "{next:?}");
        }
    }

    #[test]
    fn paths_outside_ascii_are_percent_encoded_not_refused() {
        assert_eq!(safe_next("/projects/数据"), "/projects/%E6%95%B0%E6%8D%AE");
        // The result is always a valid header value.
        for next in ["/projects/数据", "/ok?q=1&r=é"] {
            let out = safe_next(next);
            assert!(warp::http::HeaderValue::from_str(&out).is_ok(), "{out}");
        }
    }
}
