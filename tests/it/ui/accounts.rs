//! Accounts as a browser and an API client meet them: login throttling that cannot be
//! dodged or turned against someone, password checks that do not starve the process.

use std::time::Duration;

use super::{Browser, cluster_with_users, form_request};
use crate::harness::*;

/// A login POST as a browser behind the local proxy sends it, claiming `forwarded_for`.
async fn raw_login(
    browser: &Browser,
    name: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut request = browser
        .http
        .post(format!("{}/login", browser.base))
        .header("cookie", "pgdag_login=t0k3n");
    if let Some(f) = forwarded_for {
        request = request.header("x-forwarded-for", f);
    }
    let request = form_request(
        request,
        &[
            ("login_token", "t0k3n"),
            ("name", name),
            ("password", password),
        ],
    );
    request.send().await.unwrap().status().as_u16()
}

/// Move every throttle key's last attempt `secs` into the past (the database's clock is
/// the one that counts).
async fn rewind_throttle(cluster: &TestCluster, secs: f64) {
    let client = cluster.store.client().await.unwrap();
    client
        .execute(
            "update pgdag.login_throttle set last_at = last_at - make_interval(secs => $1)",
            &[&secs],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_back_off_and_the_right_password_works_after_the_wait() {
    let cluster = cluster_with_users().await;
    let mut browser = Browser::new(&cluster);
    for _ in 0..5 {
        assert_eq!(browser.login("bob", "guess").await.status, 401);
    }
    // Backing off: even the right password waits (so a guesser learns nothing).
    let throttled = browser.login("bob", "bob-password").await;
    assert_eq!(throttled.status, 429);
    assert!(throttled.body.contains("Too many failed logins"));
    // Another user is not slowed down by bob's failures.
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    // After the wait (1 s after five failures) the right password works: no lock-out.
    rewind_throttle(&cluster, 1.5).await;
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    // ... and a success starts bob again from zero.
    let client = cluster.store.client().await.unwrap();
    let left: i64 = client
        .query_one(
            "select count(*) from pgdag.login_throttle where key = 'name:bob'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    // Each further failure doubles the wait: 5 free, then 1 s, 2 s, 4 s.
    let mut waits = Vec::new();
    for _ in 0..8 {
        let status = raw_login(&browser, "bob", "guess", None).await;
        waits.push(status);
        rewind_throttle(&cluster, 0.0).await;
    }
    assert_eq!(&waits[..5], &[401; 5]);
    assert_eq!(waits[5], 429, "{waits:?}");
    rewind_throttle(&cluster, 1.1).await;
    assert_eq!(raw_login(&browser, "bob", "guess", None).await, 401);
    rewind_throttle(&cluster, 1.1).await;
    assert_eq!(
        raw_login(&browser, "bob", "guess", None).await,
        429,
        "the seventh failure waits 2 s"
    );
    rewind_throttle(&cluster, 1.0).await;
    assert_eq!(raw_login(&browser, "bob", "bob-password", None).await, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_cannot_slip_past_the_check() {
    let cluster = cluster_with_users().await;
    let browser = Browser::new(&cluster);
    let guesses = (0..24).map(|i| {
        let browser = &browser;
        // Every guess claims another address: only the name's backoff applies.
        let addr = format!("198.51.100.{i}");
        async move { raw_login(browser, "bob", "guess", Some(&addr)).await }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 24, "{statuses:?}");
    // Five free attempts, and at most the one the 1 s backoff lets through if the burst
    // outlasts it; a check-then-record race would let most of them through.
    assert!(checked <= 7, "{statuses:?}");
    let client = cluster.store.client().await.unwrap();
    let failures: i32 = client
        .query_one(
            "select failures from pgdag.login_throttle where key = 'name:bob'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        failures as usize, checked,
        "every checked guess is recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_is_the_one_the_trusted_proxy_saw_not_the_one_the_client_wrote() {
    let cluster = cluster_with_users().await;
    let browser = Browser::new(&cluster);
    // 20 failures for different names from one address, each claiming a fresh leftmost
    // X-Forwarded-For: the proxy (loopback, trusted by default) appended 203.0.113.7.
    for i in 0..20 {
        let xff = format!("10.9.9.{i}, 203.0.113.7");
        assert_eq!(
            raw_login(&browser, &format!("nobody{i}"), "x", Some(&xff)).await,
            401
        );
    }
    let xff = "1.2.3.4, 203.0.113.7";
    assert_eq!(
        raw_login(&browser, "root", "root-password", Some(xff)).await,
        429
    );
    // Nor can a client pin its failures on someone else: 203.0.113.8 is unaffected.
    let xff = "203.0.113.7, 203.0.113.8";
    assert_eq!(
        raw_login(&browser, "root", "root-password", Some(xff)).await,
        303
    );
    let client = cluster.store.client().await.unwrap();
    let keys: Vec<String> = client
        .query(
            "select key from pgdag.login_throttle where key like 'addr:%' order by key",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, ["addr:203.0.113.7", "addr:203.0.113.8"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_logins_does_not_delay_the_heartbeat() {
    let cluster = TestCluster::start_with(&pgdag::server::Role::ALL, |c| {
        c.heartbeat_interval = pgdag::model::Duration::from_millis(500);
    })
    .await;
    let browser = Browser::new(&cluster);
    let done = std::sync::atomic::AtomicBool::new(false);
    // 300 logins, 24 at a time, each for an unknown name from its own address, so that
    // none is throttled and each costs a full argon2 check.
    let flood = async {
        let mut statuses = Vec::new();
        for wave in 0..(300 / 24) {
            let logins =
                (0..24).map(|i| {
                    let browser = &browser;
                    let addr = format!("10.{wave}.{i}.1");
                    async move {
                        raw_login(browser, &format!("ghost{wave}x{i}"), "x", Some(&addr)).await
                    }
                });
            statuses.extend(futures_util::future::join_all(logins).await);
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        statuses
    };
    // Meanwhile, read the heartbeat's age as the database sees it.
    let watch = async {
        let client = cluster.store.client().await.unwrap();
        let mut ages = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            tick.tick().await;
            let age: f64 = client
                .query_one(
                    "select extract(epoch from max(now() - heartbeat_at))::float8 \
                     from pgdag.server where stopped_at is null",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            ages.push(age);
        }
        ages
    };
    let (statuses, ages) = tokio::join!(flood, watch);
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert!(
        ages.len() > 5,
        "the flood took a while: {} samples",
        ages.len()
    );
    let worst = ages.iter().cloned().fold(0.0, f64::max);
    // Within the interval, with one interval of slack for the tick's phase and a busy host.
    assert!(
        worst < 1.0,
        "heartbeat age reached {worst:.3}s during the flood"
    );
}

/// A REST call with a bearer token; the status and the JSON body (null when not JSON).
async fn rest(
    cluster: &TestCluster,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}{path}", cluster.api()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_have_names_and_expiry_and_a_revoked_or_expired_one_is_refused_at_once() {
    let cluster = cluster_with_users().await;
    let admin = cluster.api_token("ops").await;
    use reqwest::Method as M;
    let (status, made) = rest(
        &cluster,
        M::POST,
        "/api/v1/tokens",
        &admin,
        Some(serde_json::json!({"user": "bob", "name": "ci", "expires_in": "30d"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let ci = made["token"].as_str().unwrap().to_string();
    let ci_id = made["id"].as_i64().unwrap();
    assert!(made["expires_at"].is_string(), "{made}");
    assert_eq!(
        rest(&cluster, M::GET, "/api/v1/projects", &ci, None)
            .await
            .0,
        200
    );
    // A second token of the same name is refused.
    let (status, _) = rest(
        &cluster,
        M::POST,
        "/api/v1/tokens",
        &admin,
        Some(serde_json::json!({"user": "bob", "name": "ci"})),
    )
    .await;
    assert_eq!(status, 409);
    // Bob sees his own tokens only, and may not make one for someone else.
    let (status, mine) = rest(&cluster, M::GET, "/api/v1/tokens", &ci, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = mine["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["user"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob"]);
    let (status, _) = rest(
        &cluster,
        M::POST,
        "/api/v1/tokens",
        &ci,
        Some(serde_json::json!({"user": "root"})),
    )
    .await;
    assert_eq!(status, 403);
    // The admin lists everyone's.
    let (_, all) = rest(&cluster, M::GET, "/api/v1/tokens", &admin, None).await;
    assert_eq!(all["tokens"].as_array().unwrap().len(), 2, "{all}");

    // Revoked: 401 on the very next request.
    let (status, _) = rest(
        &cluster,
        M::DELETE,
        &format!("/api/v1/tokens/{ci_id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        rest(&cluster, M::GET, "/api/v1/projects", &ci, None)
            .await
            .0,
        401
    );

    // Expired: 401 as well (the test moves its expiry into the past).
    let (_, made) = rest(
        &cluster,
        M::POST,
        "/api/v1/tokens",
        &admin,
        Some(serde_json::json!({"user": "bob", "name": "short", "expires_in": "1h"})),
    )
    .await;
    let short = made["token"].as_str().unwrap().to_string();
    assert_eq!(
        rest(&cluster, M::GET, "/api/v1/projects", &short, None)
            .await
            .0,
        200
    );
    let client = cluster.store.client().await.unwrap();
    client
        .execute(
            "update pgdag.api_token set expires_at = now() - interval '1 second' where id = $1",
            &[&made["id"].as_i64().unwrap()],
        )
        .await
        .unwrap();
    let (status, body) = rest(&cluster, M::GET, "/api/v1/projects", &short, None).await;
    assert_eq!(status, 401, "{body}");

    // The Tokens page: create one with a name and an expiry, see it listed, revoke it.
    let mut root = Browser::new(&cluster);
    assert_eq!(root.login("root", "root-password").await.status, 303);
    let page = root
        .submit(
            "/admin/tokens",
            &[("user", "bob"), ("name", "page"), ("expires_in", "2d")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("A new token for bob"), "{}", page.body);
    assert!(page.body.contains("<td>page</td>"), "{}", page.body);
    assert!(page.body.contains("expired"), "the expired one is marked");
    let bad = root
        .submit("/admin/tokens", &[("user", "bob"), ("expires_in", "soon")])
        .await;
    assert!(bad.body.contains("expires in"), "{}", bad.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_sessions_and_tokens_and_sessions_have_an_absolute_lifetime() {
    let cluster = cluster_with_users().await;
    let client = cluster.store.client().await.unwrap();
    let token = pgdag::store::users::create_token(&client, "bob", Some("laptop"), None)
        .await
        .unwrap()
        .token;
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let mut root = Browser::new(&cluster);
    assert_eq!(root.login("root", "root-password").await.status, 303);

    // The admin sets bob's password on the Users page: bob's session and token end.
    let page = root
        .submit(
            "/admin/users/password",
            &[("name", "bob"), ("password", "new-bob-password")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("1 API token(s) were revoked"),
        "{}",
        page.body
    );
    assert_eq!(bob.get("/").await.status, 303, "bob's session ended");
    let api = rest(
        &cluster,
        reqwest::Method::GET,
        "/api/v1/projects",
        &token,
        None,
    )
    .await;
    assert_eq!(api.0, 401);
    // The admin's own session is untouched.
    assert_eq!(root.get("/").await.status, 200);

    // With "keep tokens", tokens survive but sessions still end.
    let token = pgdag::store::users::create_token(&client, "bob", Some("ci"), None)
        .await
        .unwrap()
        .token;
    assert_eq!(bob.login("bob", "new-bob-password").await.status, 303);
    root.submit(
        "/admin/users/password",
        &[
            ("name", "bob"),
            ("password", "third-bob-password"),
            ("keep_tokens", "1"),
        ],
    )
    .await;
    assert_eq!(bob.get("/").await.status, 303);
    let api = rest(
        &cluster,
        reqwest::Method::GET,
        "/api/v1/projects",
        &token,
        None,
    )
    .await;
    assert_eq!(api.0, 200);

    // An active session still ends at its absolute lifetime (7 days by default): the test
    // moves the login into the past; the idle expiry alone would have kept it.
    assert_eq!(bob.login("bob", "third-bob-password").await.status, 303);
    assert_eq!(bob.get("/").await.status, 200);
    client
        .execute(
            "update pgdag.web_session set created_at = created_at - interval '7 days 1 second' \
             where user_id = (select id from pgdag.app_user where name = 'bob')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(bob.get("/").await.status, 303, "past its absolute lifetime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_strict_content_security_policy_and_cookies_can_be_forced_secure() {
    let cluster = TestCluster::start_with(&pgdag::server::Role::ALL, |c| {
        c.cookie_secure = pgdag::config::CookieSecure::Always;
    })
    .await;
    let client = cluster.store.client().await.unwrap();
    pgdag::store::users::add(&client, "root", Some("root-password"), true)
        .await
        .unwrap();
    cluster.apply(super::FLOW).await;
    let id = cluster.run("p/w", serde_json::json!({})).await;
    cluster.wait_final(id).await;
    let mut root = Browser::new(&cluster);
    let login = root.login("root", "root-password").await;
    assert_eq!(login.status, 303);
    assert!(
        login
            .set_cookies
            .iter()
            .any(|c| c.starts_with("pgdag_session=") && c.contains("; Secure")),
        "plain http, but PGDAG_COOKIE_SECURE=always: {:?}",
        login.set_cookies
    );
    let csp_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    for path in [
        "/",
        "/login",
        "/projects/p/workflows/w",
        &format!("/instances/{id}"),
        "/schedules",
        "/admin/users",
        "/admin/tokens",
    ] {
        let response = root
            .http
            .get(format!("{}{path}", root.base))
            .header("cookie", root.cookie_header())
            .send()
            .await
            .unwrap();
        let csp = csp_of(&response);
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let body = response.text().await.unwrap();
        // Nothing the policy would block: no inline script, handler or style attribute.
        for banned in ["<script>", "onsubmit=", "onclick=", "style=\"", "<style"] {
            assert!(!body.contains(banned), "{path} has {banned}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_internal_error_with_a_request_id_and_failed_starts_stay_in_their_project() {
    let cluster = cluster_with_users().await;
    let admin = cluster.api_token("ops").await;
    let client = cluster.store.client().await.unwrap();
    let bob = pgdag::store::users::create_token(&client, "bob", None, None)
        .await
        .unwrap()
        .token;
    cluster.apply(super::FLOW).await;
    // A start that fails (no such workflow in p): its error is for readers of p only.
    let id: i64 = client
        .query_one(
            "insert into pgdag.command (command_type, project, workflow) \
             values ('start', 'p', 'nope') returning workflow_instance_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let path = format!("/api/v1/instances/{id}");
    let mut failed = (0, serde_json::Value::Null);
    for _ in 0..100 {
        failed = rest(&cluster, reqwest::Method::GET, &path, &admin, None).await;
        if failed.0 == 422 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(failed.0, 422, "{}", failed.1);
    let (status, body) = rest(&cluster, reqwest::Method::GET, &path, &bob, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("instance {id} does not exist"),
        "the same as an id nobody used"
    );

    // A database failure: the client sees "internal error" and a request id, never the
    // database's text — on REST and on the login page.
    client
        .batch_execute("alter table pgdag.project rename to project_gone")
        .await
        .unwrap();
    let (status, body) = rest(
        &cluster,
        reqwest::Method::GET,
        "/api/v1/projects",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 500, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("internal error (request id "),
        "{message}"
    );
    assert!(!message.contains("project"), "{message}");
    client
        .batch_execute(
            "alter table pgdag.project_gone rename to project; \
             alter table pgdag.login_throttle rename to throttle_gone",
        )
        .await
        .unwrap();
    let browser = Browser::new(&cluster);
    let response = browser
        .http
        .post(format!("{}/login", browser.base))
        .header("cookie", "pgdag_login=t0k3n")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("login_token=t0k3n&name=root&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    let page = response.text().await.unwrap();
    assert!(page.contains("internal error (request id "), "{page}");
    assert!(!page.contains("throttle"), "{page}");
}
