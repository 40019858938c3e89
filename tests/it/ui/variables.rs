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
