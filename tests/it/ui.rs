//! The web admin over real HTTP (no browser): logins and sessions, access control on every
//! page and REST call, CSRF, escaping, and the forms (run, edit, switch version, schedules).

use crate::harness::*;

mod accounts;
mod audit;
mod bounds;
mod logs;
mod manage;
mod variables;

/// A browser-like client for one base URL: its cookies and the page's CSRF token.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
    csrf: String,
}

struct Page {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
    body: String,
}

impl Browser {
    fn new(cluster: &TestCluster) -> Browser {
        Browser::at(format!("http://{}", cluster.api()))
    }

    /// A browser for a server at `base` (`http://host:port`).
    fn at(base: String) -> Browser {
        Browser {
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Default::default(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let body = response.text().await.unwrap();
        if let Some(token) = hidden(&body, "csrf") {
            self.csrf = token;
        }
        Page {
            status,
            location,
            set_cookies,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = form_request(self.http.post(format!("{}{path}", self.base)), form);
        self.send(request).await
    }

    /// A form post carrying the session's CSRF token.
    async fn submit(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields).await
    }

    async fn login(&mut self, name: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200);
        let token = hidden(&page.body, "login_token").expect("the login form has a token");
        let page = self
            .post(
                "/login",
                &[
                    ("login_token", &token),
                    ("name", name),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        if page.status == 303 {
            // Load a page to learn the session's CSRF token.
            let home = self.get("/").await;
            assert_eq!(home.status, 200, "{}", home.body);
        }
        page
    }
}

fn form_request(
    request: reqwest::RequestBuilder,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let body = form
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                pgdag::api::percent_encode(k),
                pgdag::api::percent_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// The value of the first hidden input called `name`.
fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

async fn cluster_with_users() -> TestCluster {
    let cluster = TestCluster::start().await;
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "root", Some("root-password"), true)
        .await
        .unwrap();
    pgdag::store::users::add(&client, "bob", Some("bob-password"), false)
        .await
        .unwrap();
    cluster
}

const FLOW: &str = "project: p\nname: w\ndescription: a test flow\ntasks:\n  - { name: hello, type: shell, script: 'echo hello from w' }\n";

/// Every page an anonymous request may not see.
const PAGES: &[&str] = &[
    "/",
    "/projects",
    "/projects/p",
    "/projects/p/workflows/w",
    "/projects/p/workflows/w/diff?from=1&to=1",
    "/instances",
    "/instances/1",
    "/task-instances/1/log",
    "/schedules",
    "/servers",
    "/admin/users",
    "/admin/tokens",
    "/audit",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_sent_to_the_login_page_or_refused() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let mut browser = Browser::new(&cluster);
    for path in PAGES {
        let page = browser.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(
            page.location.starts_with("/login?next=%2F"),
            "{path} -> {}",
            page.location
        );
    }
    // htmx fragments get a 401 that tells htmx where to go.
    let fragment = browser
        .send(
            browser
                .http
                .get(format!("{}/instances?partial=table", browser.base))
                .header("hx-request", "true"),
        )
        .await;
    assert_eq!(fragment.status, 401);
    // A form post without a session changes nothing.
    let post = browser
        .post("/projects/p/workflows/w/run", &[("params", "")])
        .await;
    assert_eq!(post.status, 303);
    let client = cluster.store.client().await.unwrap();
    let commands: i64 = client
        .query_one("select count(*) from pgdag.command", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(commands, 0);
    // REST answers 401 without a token or cookie.
    let rest = browser.get("/api/v1/projects").await;
    assert_eq!(rest.status, 401);
    // Static files need no login.
    let css = browser.get("/static/app-2.css").await;
    assert_eq!(css.status, 200);
    assert!(css.body.contains(".state-failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_an_httponly_session_cookie_and_logout_ends_the_session() {
    let cluster = cluster_with_users().await;
    let mut browser = Browser::new(&cluster);

    let wrong = browser.login("root", "not-the-password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong user name or password."));
    assert!(!browser.cookies.contains_key("pgdag_session"));

    let ok = browser.login("root", "root-password").await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("pgdag_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let home = browser.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("root"), "the header names the user");
    let old = browser.cookies.clone();

    // Only the hash is stored.
    let secret = old["pgdag_session"].clone();
    let client = cluster.store.client().await.unwrap();
    let stored: i64 = client
        .query_one(
            "select count(*) from pgdag.web_session where token_hash = $1",
            &[&secret],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "the cookie secret itself is not stored");

    let out = browser.submit("/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location, "/login");
    browser.cookies = old;
    let after = browser.get("/").await;
    assert_eq!(after.status, 303, "the old cookie no longer works");

    // Behind a TLS proxy the cookie is Secure.
    let mut tls = Browser::new(&cluster);
    let page = tls.get("/login").await;
    let token = hidden(&page.body, "login_token").unwrap();
    let request = form_request(
        tls.http
            .post(format!("{}/login", tls.base))
            .header("x-forwarded-proto", "https"),
        &[
            ("login_token", token.as_str()),
            ("name", "root"),
            ("password", "root-password"),
        ],
    );
    let page = tls.send(request).await;
    assert_eq!(page.status, 303);
    assert!(
        page.set_cookies
            .iter()
            .any(|c| c.starts_with("pgdag_session=") && c.contains("Secure")),
        "{:?}",
        page.set_cookies
    );

    // A login form whose token does not match the browser's cookie is refused.
    let mut forged = Browser::new(&cluster);
    let page = forged
        .post(
            "/login",
            &[
                ("login_token", "made-up"),
                ("name", "root"),
                ("password", "root-password"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(!forged.cookies.contains_key("pgdag_session"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_login_the_browser_goes_only_to_a_local_path() {
    let cluster = cluster_with_users().await;
    // The login page carries `next` in its form: a hostile one comes back as `/`.
    let mut browser = Browser::new(&cluster);
    let page = browser.get("/login?next=/%09/evil.example").await;
    assert_eq!(page.status, 200);
    assert_eq!(hidden(&page.body, "next").as_deref(), Some("/"));
    let page = browser.get("/login?next=/projects/%E6%95%B0").await;
    assert_eq!(
        page.status, 200,
        "a next outside ASCII must not fail the page"
    );

    for (next, expected) in [
        ("/instances/3", "/instances/3"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/ /evil.example", "/"),
        ("/projects/数据", "/projects/%E6%95%B0%E6%8D%AE"),
    ] {
        let mut browser = Browser::new(&cluster);
        let page = browser.get("/login").await;
        let token = hidden(&page.body, "login_token").unwrap();
        let page = browser
            .post(
                "/login",
                &[
                    ("login_token", token.as_str()),
                    ("name", "root"),
                    ("password", "root-password"),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{next:?}: {}", page.body);
        assert_eq!(page.location, expected, "{next:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_membership_decides_every_page_and_rest_call() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let id = cluster.run("p/w", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    let task_id = task(&detail, "hello").id;
    let admin_token = cluster.api_token("ops").await;
    let client = cluster.store.client().await.unwrap();
    let bob_token = pgdag::store::users::create_token(&client, "bob", None, None)
        .await
        .unwrap()
        .token;
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let base = bob.base.clone();
    let rest = |token: &str, method: reqwest::Method, path: &str| {
        let request = reqwest::Client::new()
            .request(method, format!("{base}/api/v1{path}"))
            .bearer_auth(token);
        async move { request.send().await.unwrap() }
    };

    // Not a member: 404 on the project's pages and REST — the same as for a project that
    // does not exist, so that 403 against 404 does not tell which names are taken — and
    // nothing of it in listings.
    for path in [
        "/projects/p".to_string(),
        "/projects/p/workflows/w".to_string(),
        format!("/instances/{id}"),
        format!("/task-instances/{task_id}/log"),
        "/instances?project=p".to_string(),
    ] {
        let page = bob.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("does not exist"), "{path}");
        if path.starts_with("/instances/") || path.starts_with("/task-instances/") {
            assert!(!page.body.contains("project p"), "{path}: {}", page.body);
        }
    }
    for path in ["/admin/users", "/admin/tokens"] {
        assert_eq!(bob.get(path).await.status, 403, "{path}");
    }
    assert!(!bob.get("/projects").await.body.contains("/projects/p\""));
    assert!(
        !bob.get("/instances")
            .await
            .body
            .contains(&format!("#{id}<"))
    );
    for path in [
        "/projects/p".to_string(),
        "/projects/p/workflows/w".to_string(),
        format!("/instances/{id}"),
        format!("/task-instances/{task_id}/log"),
    ] {
        let status = rest(&bob_token, reqwest::Method::GET, &path).await.status();
        assert_eq!(status, 404, "{path}");
    }
    let unknown = rest(&bob_token, reqwest::Method::GET, "/projects/nope").await;
    assert_eq!(unknown.status(), 404);
    let listed: serde_json::Value = rest(&bob_token, reqwest::Method::GET, "/instances")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["instances"], serde_json::json!([]));
    let projects: serde_json::Value = rest(&bob_token, reqwest::Method::GET, "/projects")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(projects["projects"], serde_json::json!([]));
    // An unknown project is a 404, not a 403.
    assert_eq!(bob.get("/projects/nope").await.status, 404);

    // Read access: pages open, but nothing can be started or changed.
    let grant = |access: &'static str| {
        let request = reqwest::Client::new()
            .put(format!("{base}/api/v1/projects/p/members/bob"))
            .bearer_auth(&admin_token)
            .json(&serde_json::json!({ "access": access }));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
    };
    // Only admins grant access.
    let status = reqwest::Client::new()
        .put(format!("{base}/api/v1/projects/p/members/bob"))
        .bearer_auth(&bob_token)
        .json(&serde_json::json!({ "access": "write" }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    grant("read").await;
    for path in [
        "/projects/p".to_string(),
        "/projects/p/workflows/w".to_string(),
        format!("/instances/{id}"),
        format!("/task-instances/{task_id}/log"),
    ] {
        assert_eq!(bob.get(&path).await.status, 200, "{path}");
    }
    assert!(bob.get("/projects").await.body.contains("/projects/p\""));
    let page = bob.get("/projects/p/workflows/w").await;
    assert!(!page.body.contains("Run…"), "no run dialog for readers");
    let run = bob
        .submit("/projects/p/workflows/w/run", &[("params", "")])
        .await;
    assert_eq!(run.status, 403);
    assert!(
        run.body
            .contains("read access to project p, write is needed")
    );
    let stop = bob.submit(&format!("/instances/{id}/rerun"), &[]).await;
    assert_eq!(stop.status, 403);
    let status = rest(
        &bob_token,
        reqwest::Method::POST,
        "/projects/p/workflows/w/runs",
    )
    .await
    .status();
    assert_eq!(status, 403);
    let status = rest(
        &bob_token,
        reqwest::Method::GET,
        &format!("/instances/{id}"),
    )
    .await
    .status();
    assert_eq!(status, 200);

    // Write access: bob can run it.
    grant("write").await;
    let run = bob
        .submit("/projects/p/workflows/w/run", &[("params", "")])
        .await;
    assert_eq!(run.status, 303, "{}", run.body);
    assert!(run.location.starts_with("/instances/"), "{}", run.location);
    let response = rest(
        &bob_token,
        reqwest::Method::POST,
        "/projects/p/workflows/w/runs",
    )
    .await;
    assert_eq!(response.status(), 201);
    // Still no admin pages, and no new projects.
    assert_eq!(bob.get("/admin/users").await.status, 403);
    let status = reqwest::Client::new()
        .post(format!("{base}/api/v1/projects/q/workflows"))
        .bearer_auth(&bob_token)
        .body("project: q\nname: x\ntasks:\n  - { name: a, type: shell, script: 'true' }\n")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_requests_need_the_sessions_csrf_token() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    let commands = || async {
        let client = cluster.store.client().await.unwrap();
        client
            .query_one("select count(*) from pgdag.command", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };

    let missing = browser
        .post("/projects/p/workflows/w/run", &[("params", "")])
        .await;
    assert_eq!(missing.status, 403);
    assert!(missing.body.contains("CSRF token is missing or wrong"));
    let wrong = browser
        .post(
            "/projects/p/workflows/w/run",
            &[("csrf", "0000"), ("params", "")],
        )
        .await;
    assert_eq!(wrong.status, 403);
    for path in [
        "/admin/users",
        "/logout",
        "/instances/1/stop",
        "/admin/tokens",
    ] {
        assert_eq!(browser.post(path, &[]).await.status, 403, "{path}");
    }
    assert_eq!(commands().await, 0, "nothing was started");

    // REST with the session cookie needs the token in a header; a bearer token does not.
    let url = format!("{}/api/v1/projects/p/workflows/w/runs", browser.base);
    let without = browser.send(browser.http.post(&url)).await;
    assert_eq!(without.status, 403);
    let with = browser
        .send(
            browser
                .http
                .post(&url)
                .header("x-csrf-token", &browser.csrf),
        )
        .await;
    assert_eq!(with.status, 201, "{}", with.body);
    // Reads need no token.
    assert_eq!(
        browser
            .send(
                browser
                    .http
                    .get(format!("{}/api/v1/instances", browser.base))
            )
            .await
            .status,
        200
    );
    let token = cluster.api_token("ops").await;
    let status = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 201);

    let started = browser
        .submit("/projects/p/workflows/w/run", &[("params", "who=csrf")])
        .await;
    assert_eq!(started.status, 303);
    // The run exists: still a command, or already taken by the master.
    let client = cluster.store.client().await.unwrap();
    let runs: i64 = client
        .query_one(
            "select (select count(*) from pgdag.command where params ->> 'who' = 'csrf')
                  + (select count(*) from pgdag.workflow_instance where params ->> 'who' = 'csrf')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 1, "the form post with the token started one run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_is_escaped_on_every_page() {
    let cluster = cluster_with_users().await;
    let xss = "<script>alert(1)</script>";
    cluster
        .apply(&format!(
            "project: p\nname: w\ndescription: \"{xss}\"\nparams: {{ note: \"{xss}\" }}\ntasks:\n  - {{ name: t, type: shell, script: 'echo \"{xss}\"' }}\n"
        ))
        .await;
    let id = cluster
        .run("p/w", serde_json::json!({ "extra": xss }))
        .await;
    let detail = cluster.wait_final(id).await;
    let task_id = task(&detail, "t").id;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    for path in [
        "/".to_string(),
        "/projects/p".to_string(),
        "/projects/p/workflows/w".to_string(),
        format!("/instances/{id}"),
        format!("/task-instances/{task_id}/log"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.body.contains("<script>alert"),
            "{path} shows the script unescaped"
        );
    }
    // Escaped as entities (askama writes `&#60;`; `&lt;` would do as well).
    let escaped = |body: &str| {
        body.matches("&#60;script&#62;alert(1)&#60;/script&#62;")
            .count()
            + body
                .matches("&lt;script&gt;alert(1)&lt;/script&gt;")
                .count()
    };
    let workflow = browser.get("/projects/p/workflows/w").await;
    assert!(
        escaped(&workflow.body) >= 3,
        "description, YAML, editor: {}",
        workflow.body
    );
    let instance = browser.get(&format!("/instances/{id}")).await;
    assert!(escaped(&instance.body) >= 1, "params: {}", instance.body);
    let log = browser.get(&format!("/task-instances/{task_id}/log")).await;
    assert!(escaped(&log.body) >= 1, "{}", log.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_switching_versions_and_diffs_work_through_the_forms() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    let base = "/projects/p/workflows/w";

    // A broken edit is refused at its line and writes nothing.
    let broken = "project: p\nname: w\ntasks:\n  - { name: a, type: shell, script: 'true', depends_on: [b] }\n  - { name: b, type: shell, script: 'true', depends_on: [a] }\n";
    let page = browser
        .submit(&format!("{base}/edit"), &[("yaml", broken)])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("cycle"), "{}", page.body);
    assert!(page.body.contains("class=\"bad\""), "the line is marked");
    let renamed = FLOW.replace("name: w", "name: other");
    let page = browser
        .submit(&format!("{base}/edit"), &[("yaml", renamed.as_str())])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("this page edits p/w"));
    let client = cluster.store.client().await.unwrap();
    let versions = pgdag::store::definitions::list_versions(&client, "p", "w")
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);

    // A good edit is version 2; the diff shows the change.
    let changed = FLOW.replace("echo hello from w", "echo changed");
    let page = browser
        .submit(&format!("{base}/edit"), &[("yaml", changed.as_str())])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Saved as version 2."));
    let diff = browser.get(&format!("{base}/diff?from=1&to=2")).await;
    assert_eq!(diff.status, 200);
    assert!(diff.body.contains("class=\"removed\""));
    assert!(diff.body.contains("echo changed"));

    // Switching back to version 1 makes it current without a new version; the next change
    // is numbered after the highest.
    let page = browser
        .submit(&format!("{base}/versions/1/switch"), &[])
        .await;
    assert_eq!(page.status, 303);
    let (spec, version) = pgdag::store::definitions::get_spec(&client, "p", "w", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version, 1);
    assert!(pgdag::spec::to_yaml(&spec).contains("hello from w"));
    let id = cluster.run("p/w", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.version, 1);
    let third = FLOW.replace("echo hello from w", "echo third");
    let page = browser
        .submit(&format!("{base}/edit"), &[("yaml", third.as_str())])
        .await;
    assert!(page.body.contains("Saved as version 3."), "{}", page.body);

    // The run dialog: a bad parameter line is shown back; a backfill makes one instance a date.
    let page = browser
        .submit(&format!("{base}/run"), &[("params", "no equals sign")])
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("is not name=value"));
    let page = browser
        .submit(
            &format!("{base}/run"),
            &[
                ("params", ""),
                ("backfill", "1"),
                ("from", "2026-01-01"),
                ("to", "2026-01-03"),
                ("mode", "parallel"),
                ("parallelism", "2"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, "/instances?project=p&workflow=w");
    let backfill: serde_json::Value = client
        .query_one(
            "select to_jsonb(dates) from pgdag.backfill where mode = 'parallel' and parallelism = 2",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(backfill.as_array().map(Vec::len), Some(3), "{backfill}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_builder_previews_and_adds_a_schedule_that_can_be_switched_off() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    let preview = browser
        .get("/schedules/preview?hour=2&weekday=MON-FRI&tz=Europe%2FBerlin")
        .await;
    assert_eq!(preview.status, 200);
    assert!(
        preview.body.contains("0 0 2 ? * MON-FRI"),
        "{}",
        preview.body
    );
    assert_eq!(preview.body.matches("<li>").count(), 10);
    let bad = browser.get("/schedules/preview?expr=0+0+99+*+*+%3F").await;
    assert!(bad.body.contains("class=\"error\""), "{}", bad.body);

    let added = browser
        .submit(
            "/schedules",
            &[("expr", "0 0 3 * * ?"), ("tz", "UTC"), ("target", "p/w")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let client = cluster.store.client().await.unwrap();
    let list = pgdag::store::schedules::list(&client, Some("p"), None)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].cron, "0 0 3 * * ?");
    assert!(list[0].enabled);
    let off = browser
        .submit(&format!("/schedules/{}/off", list[0].id), &[])
        .await;
    assert_eq!(off.status, 303);
    let list = pgdag::store::schedules::list(&client, Some("p"), None)
        .await
        .unwrap();
    assert!(!list[0].enabled);
    let page = browser.get("/schedules").await;
    assert!(page.body.contains("0 0 3 * * ?"));
    assert!(page.body.contains("switch on"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dolphinscheduler_export_is_previewed_with_its_report_then_applied_on_confirm() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let export = std::fs::read_to_string(
        "tests/fixtures/ds-exports/apache-dolphinscheduler__cicd-1.3-rollback.json",
    )
    .unwrap();
    let count = || async {
        let client = cluster.store.client().await.unwrap();
        let n: i64 = client
            .query_one("select count(*) from pgdag.workflow_definition", &[])
            .await
            .unwrap()
            .get(0);
        n
    };

    let mut root = Browser::new(&cluster);
    assert_eq!(root.login("root", "root-password").await.status, 303);
    let project = root.get("/projects/p").await;
    assert!(
        project.body.contains("/projects/p/import"),
        "{}",
        project.body
    );
    assert_eq!(root.get("/projects/p/import").await.status, 200);

    // Preview: the report, nothing stored.
    let preview = root
        .submit("/projects/p/import", &[("export", &export)])
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("Renamed (3)"), "{}", preview.body);
    assert!(preview.body.contains("p/rollback"), "{}", preview.body);
    assert!(preview.body.contains("Confirm"));
    assert_eq!(count().await, 1);

    // Unsupported parts: listed, nothing stored.
    let sqoop = std::fs::read_to_string(
        "tests/fixtures/ds-exports/aliyun-dataworks-spec__3.2.0-sqoop.json",
    )
    .unwrap();
    let refused = root
        .submit("/projects/p/import", &[("export", &sqoop)])
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("sqoop1") && refused.body.contains("taskType"));
    let confirm_refused = root
        .submit(
            "/projects/p/import",
            &[("export", &sqoop), ("confirm", "yes")],
        )
        .await;
    assert_eq!(confirm_refused.status, 422);
    assert_eq!(count().await, 1);

    // Without the session's CSRF token: refused.
    let forged = root
        .post(
            "/projects/p/import",
            &[("csrf", "0000"), ("export", &export), ("confirm", "yes")],
        )
        .await;
    assert_ne!(forged.status, 303);
    assert_eq!(count().await, 1);

    // A user who may not write the project (nor read it: 404, as for no such project):
    // refused.
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let denied = bob
        .submit(
            "/projects/p/import",
            &[("export", &export), ("confirm", "yes")],
        )
        .await;
    assert_eq!(denied.status, 404);
    assert_eq!(count().await, 1);

    // Confirm: applied; confirming again changes nothing.
    let done = root
        .submit(
            "/projects/p/import",
            &[("export", &export), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, "/projects/p");
    assert_eq!(count().await, 2);
    let client = cluster.store.client().await.unwrap();
    let (spec, version) = pgdag::store::definitions::get_spec(&client, "p", "rollback", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(spec.tasks.len(), 3);
    root.get("/projects/p").await;
    let again = root
        .submit(
            "/projects/p/import",
            &[("export", &export), ("confirm", "yes")],
        )
        .await;
    assert_eq!(again.status, 303);
    let (_, version) = pgdag::store::definitions::get_spec(&client, "p", "rollback", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version, 1);
}

/// The instance page offers "retry" on a final task; the form runs it again (with its
/// downstream) and comes back to the instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_page_retries_a_task_with_its_button() {
    let cluster = cluster_with_users().await;
    cluster
        .apply("project: p\nname: w\ntasks:\n  - { name: one, type: shell, script: 'echo one' }\n  - { name: two, type: shell, script: 'echo two', depends_on: [one] }\n")
        .await;
    let id = cluster.run("p/w", serde_json::json!({})).await;
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "succeeded");
    let one = task(&done, "one").id;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    let page = browser.get(&format!("/instances/{id}")).await;
    assert_eq!(page.status, 200);
    let action = format!("action=\"/task-instances/{one}/retry\"");
    assert!(page.body.contains(&action), "{}", page.body);
    let posted = browser
        .submit(&format!("/task-instances/{one}/retry"), &[])
        .await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location, format!("/instances/{id}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let client = cluster.store.client().await.unwrap();
        let d = pgdag::store::instances::get(&client, id)
            .await
            .unwrap()
            .unwrap();
        if d.state == "succeeded" && task(&d, "two").attempt == 2 {
            assert_eq!(task(&d, "one").attempt, 2);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not retried: {d:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
