//! The Variables page of a project (issue 20, point 2): writers edit variables and set
//! secrets through forms; readers see variables and secret names only; no page ever shows
//! a secret's value.

use pgdag::store::members::{self, Access};

use super::Browser;
use crate::harness::*;

const VALUE: &str = "TOPSECRET-5772156649";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_edit_variables_and_secrets_readers_only_read_and_values_never_show() {
    let db = TestDb::new().await;
    let store = db.store();
    apply(
        &store,
        "project: p\nname: w\ntasks:\n  - { name: show, type: shell, script: 'echo \"bucket=${var.bucket} key=${secret.api_key}\"' }\n",
    )
    .await;
    {
        let client = store.client().await.unwrap();
        let users = [("bob", Access::Write), ("carol", Access::Read)];
        for (name, access) in users {
            let password = format!("{name}-password");
            pgdag::store::users::add(&client, name, Some(&password), false)
                .await
                .unwrap();
            members::set(&client, "p", name, access).await.unwrap();
        }
    }
    // The real binary: the API encrypts secrets with its own PGDAG_SECRET_KEY.
    let (_server, base) = crate::project_values::start_server(&db, &[]);

    let mut bob = Browser::at(base.clone());
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let project = bob.get("/projects/p").await;
    assert!(project.body.contains("href=\"/projects/p/variables\""));
    let page = bob.get("/projects/p/variables").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("action=\"/projects/p/variables\""));

    // A bad name is refused with the document's message; nothing is stored.
    let bad = bob
        .submit(
            "/projects/p/variables",
            &[("name_0", "bad name"), ("value_0", "x")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("bad name"), "{}", bad.body);
    let saved = bob
        .submit(
            "/projects/p/variables",
            &[
                ("name_0", "bucket"),
                ("value_0", "s3://from-the-page"),
                ("name_1", ""),
                ("value_1", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(
        saved.body.contains("1 variable(s) saved."),
        "{}",
        saved.body
    );
    let set = bob
        .submit(
            "/projects/p/secrets",
            &[("name", "api_key"), ("value", VALUE)],
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert!(set.body.contains("Secret api_key created."), "{}", set.body);
    assert!(!set.body.contains(VALUE));

    // A run sees both; the log masks the secret.
    let id = run(&store, "p/w", serde_json::json!({})).await;
    let detail = wait_final(&store, id, std::time::Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded", "{detail:?}");
    let log = log_text(&store, task(&detail, "show").id).await;
    assert!(log.contains("bucket=s3://from-the-page key=***"), "{log}");

    // A reader sees the variables and the secret's name, no form, and may change nothing.
    let mut carol = Browser::at(base.clone());
    assert_eq!(carol.login("carol", "carol-password").await.status, 303);
    let page = carol.get("/projects/p/variables").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("s3://from-the-page") && page.body.contains("api_key"));
    assert!(!page.body.contains("action=\"/projects/p/variables\""));
    assert!(!page.body.contains("action=\"/projects/p/secrets"));
    for (path, form) in [
        (
            "/projects/p/variables",
            vec![("name_0", "bucket"), ("value_0", "changed")],
        ),
        (
            "/projects/p/secrets",
            vec![("name", "api_key"), ("value", "other")],
        ),
        ("/projects/p/secrets/delete", vec![("name", "api_key")]),
    ] {
        assert_eq!(carol.submit(path, &form).await.status, 403, "{path}");
    }

    // No page shows the value (the log shows it masked); the audit trail names the writer.
    let log = format!("/task-instances/{}/log", task(&detail, "show").id);
    for path in ["/projects/p/variables", "/projects/p", log.as_str()] {
        let page = bob.get(path).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains(VALUE), "{path}");
    }
    let client = store.client().await.unwrap();
    let actions: Vec<String> = client
        .query(
            "select action from pgdag.audit where actor = 'bob' and project = 'p' order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["variables.apply", "secret.apply"]);
    let gone = bob
        .submit("/projects/p/secrets/delete", &[("name", "api_key")])
        .await;
    assert!(
        gone.body.contains("Secret api_key deleted."),
        "{}",
        gone.body
    );
    assert!(!gone.body.contains("<code>api_key</code>"));
}

/// Webhooks on the same page: a writer makes one for a workflow and sees its token once, a
/// call to it starts a run, a revoked one is refused; a reader sees no webhook and may
/// make none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_create_and_revoke_webhooks_on_the_variables_page() {
    let db = TestDb::new().await;
    let store = db.store();
    apply(
        &store,
        "project: p\nname: w\ntasks:\n  - { name: t, type: shell, script: 'echo ${size}' }\n",
    )
    .await;
    {
        let client = store.client().await.unwrap();
        for (name, access) in [("bob", Access::Write), ("carol", Access::Read)] {
            let password = format!("{name}-password");
            pgdag::store::users::add(&client, name, Some(&password), false)
                .await
                .unwrap();
            members::set(&client, "p", name, access).await.unwrap();
        }
    }
    let (_server, base) = crate::project_values::start_server(&db, &[]);

    let mut bob = Browser::at(base.clone());
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let created = bob.submit("/projects/p/hooks", &[("workflow", "w")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let start = created
        .body
        .find("<code>/hooks/")
        .unwrap_or_else(|| panic!("no hook path shown: {}", created.body));
    let path: String = created.body[start + "<code>".len()..]
        .chars()
        .take_while(|&c| c != '<')
        .collect();
    let token = path.trim_start_matches("/hooks/").to_string();
    assert!(token.len() >= 32, "{path}");
    // Shown once: the page as loaded again lists the hook, not its token.
    let again = bob.get("/projects/p/variables").await;
    assert!(again.body.contains("/projects/p/hooks/"), "{}", again.body);
    assert!(!again.body.contains(&token));

    let http = reqwest::Client::new();
    let call = http
        .post(format!("{base}{path}"))
        .json(&serde_json::json!({ "size": "42" }))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 202);
    let body: serde_json::Value = call.json().await.unwrap();
    let id = body["instance_id"].as_i64().unwrap();
    let detail = wait_final(&store, id, std::time::Duration::from_secs(60)).await;
    assert_eq!(detail.state, "succeeded", "{detail:?}");
    assert!(log_text(&store, task(&detail, "t").id).await.contains("42"));

    // A reader sees no webhook and may neither make nor revoke one.
    let hook_id = body["hook_id"].as_i64().unwrap();
    let mut carol = Browser::at(base.clone());
    assert_eq!(carol.login("carol", "carol-password").await.status, 303);
    let page = carol.get("/projects/p/variables").await;
    assert!(!page.body.contains("Webhooks"), "{}", page.body);
    let revoke = format!("/projects/p/hooks/{hook_id}/revoke");
    assert_eq!(
        carol
            .submit("/projects/p/hooks", &[("workflow", "w")])
            .await
            .status,
        403
    );
    assert_eq!(carol.submit(&revoke, &[]).await.status, 403);

    let revoked = bob.submit(&revoke, &[]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(
        revoked
            .body
            .contains(&format!("Webhook {hook_id} of p/w revoked."))
    );
    let refused = http
        .post(format!("{base}{path}"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    // An unknown workflow is refused on the page, naming it.
    let unknown = bob
        .submit("/projects/p/hooks", &[("workflow", "nope")])
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(unknown.body.contains("workflow p/nope does not exist"));
}
