//! The Audit page as a browser meets it (admins only, filters, paging, escaping), and the
//! audit rows the web forms write: admin actions and logins.

use super::{Browser, FLOW, cluster_with_users};
use crate::harness::*;

/// `(actor, action, target)` of every audit row, oldest first.
async fn rows(cluster: &TestCluster) -> Vec<(String, String, Option<String>)> {
    let client = cluster.store.client().await.unwrap();
    client
        .query(
            "select actor, action, target from pgdag.audit order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn row(actor: &str, action: &str, target: &str) -> (String, String, Option<String>) {
    (actor.into(), action.into(), Some(target.into()))
}

/// The `href` of the pager link labelled `label`, its `&` unescaped (askama writes `&#38;`).
fn pager_link(body: &str, label: &str) -> Option<String> {
    let end = body.find(&format!("\">{label}"))?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    Some(body[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_and_tokens_forms_write_audit_rows_that_admins_read_on_the_audit_page() {
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    let mut root = Browser::new(&cluster);
    assert_eq!(root.login("root", "root-password").await.status, 303);

    // Every admin form, each an audit row under the admin's name.
    let added = root
        .submit(
            "/admin/users",
            &[("name", "carol"), ("password", "carol-password-1")],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let granted = root
        .submit(
            "/admin/members",
            &[("project", "p"), ("user", "carol"), ("access", "read")],
        )
        .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let made = root
        .submit("/admin/tokens", &[("user", "carol"), ("name", "nightly")])
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let client = cluster.store.client().await.unwrap();
    let token_id = pgdag::store::users::list_tokens(&client, Some("carol"))
        .await
        .unwrap()[0]
        .id;
    let revoked = root
        .submit(&format!("/admin/tokens/{token_id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, 303);
    let removed = root
        .submit(
            "/admin/members/delete",
            &[("project", "p"), ("user", "carol")],
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let passwd = root
        .submit(
            "/admin/users/password",
            &[("name", "carol"), ("password", "carol-password-2")],
        )
        .await;
    assert_eq!(passwd.status, 200, "{}", passwd.body);
    let deleted = root
        .submit("/admin/users/delete", &[("name", "carol")])
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    // A refused change writes nothing.
    let again = root
        .submit("/admin/users/delete", &[("name", "carol")])
        .await;
    assert_eq!(again.status, 422);

    let all = rows(&cluster).await;
    for expected in [
        row("root", "user.add", "carol"),
        row("root", "member.set", "carol"),
        row("root", "token.create", "carol"),
        row("root", "token.revoke", "carol"),
        row("root", "member.remove", "carol"),
        row("root", "user.passwd", "carol"),
        row("root", "user.delete", "carol"),
    ] {
        assert_eq!(
            all.iter().filter(|r| **r == expected).count(),
            1,
            "{expected:?} once in {all:?}"
        );
    }
    let detail: serde_json::Value = client
        .query_one(
            "select detail from pgdag.audit where action = 'user.passwd'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!detail.to_string().contains("carol-password"), "{detail}");

    // The page: linked for admins, newest first, filters narrow it.
    let home = root.get("/").await;
    assert!(home.body.contains("href=\"/audit\""));
    let page = root.get("/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (deleted_at, added_at) = (
        page.body.find("user.delete").unwrap(),
        page.body.find("user.add").unwrap(),
    );
    assert!(deleted_at < added_at, "newest first");
    let tokens = root.get("/audit?action=token").await;
    assert!(tokens.body.contains("token.create") && tokens.body.contains("token.revoke"));
    assert!(!tokens.body.contains("user.add"));
    let project = root.get("/audit?project=p&action=member").await;
    assert!(project.body.contains("member.set") && project.body.contains("member.remove"));
    assert!(!project.body.contains("user.delete") && !project.body.contains("workflow.apply"));
    let by_root = root.get("/audit?actor=ROO&action=user.add").await;
    assert!(by_root.body.contains("user.add"));
    let by_bob = root.get("/audit?actor=bob").await;
    assert!(by_bob.body.contains("No events match"), "{}", by_bob.body);
    let today = chrono::Utc::now().date_naive().to_string();
    let until_today = root.get(&format!("/audit?to={today}&action=user")).await;
    assert!(until_today.body.contains("user.delete"));
    let future = root.get("/audit?from=2999-01-01").await;
    assert!(future.body.contains("No events match"));
    let bad = root.get("/audit?from=yesterday").await;
    assert_eq!(bad.status, 400);

    // Paging: 50 a page, "Older" goes on with `before`, then back to the newest.
    client
        .execute(
            "insert into pgdag.audit (actor, action, target) select 'filler', 'test.fill', 'n' || i from generate_series(1, 60) i",
            &[],
        )
        .await
        .unwrap();
    let first = root.get("/audit?actor=filler").await;
    assert_eq!(first.body.matches("test.fill").count(), 50);
    assert!(first.body.contains("<td>n60</td>") && !first.body.contains("<td>n10</td>"));
    let older = pager_link(&first.body, "Older").expect("an older link");
    assert!(
        older.contains("actor=filler") && older.contains("before="),
        "{older}"
    );
    let second = root.get(&older).await;
    assert_eq!(second.body.matches("test.fill").count(), 10);
    assert!(second.body.contains("<td>n10</td>") && !second.body.contains("<td>n11</td>"));
    assert!(pager_link(&second.body, "Older").is_none());
    assert_eq!(
        pager_link(&second.body, "← Newest").as_deref(),
        Some("/audit?actor=filler")
    );

    // Every value is escaped: a login name is whatever a stranger typed.
    let mut stranger = Browser::new(&cluster);
    stranger
        .login("<script>alert(1)</script>", "whatever-1")
        .await;
    let escaped = root.get("/audit?action=login").await;
    // Shown (as entities), never as markup.
    assert!(escaped.body.contains("alert(1)"), "{}", escaped.body);
    assert!(!escaped.body.contains("<script>alert(1)"));

    // Not for others: no link, and 403.
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let home = bob.get("/").await;
    assert!(!home.body.contains("href=\"/audit\""));
    assert_eq!(bob.get("/audit").await.status, 403);
    assert_eq!(bob.get("/audit?actor=root").await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_and_a_successful_login_through_the_form_each_write_a_row_without_the_password() {
    let cluster = cluster_with_users().await;
    let mut browser = Browser::new(&cluster);
    let failed = browser.login("bob", "not-bobs-password").await;
    assert_ne!(failed.status, 303);
    let nobody = browser.login("nobody", "nobodys-password").await;
    assert_ne!(nobody.status, 303);
    assert_eq!(browser.login("bob", "bob-password").await.status, 303);

    let client = cluster.store.client().await.unwrap();
    let logins: Vec<(String, String, String)> = client
        .query(
            "select actor, action, detail::text from pgdag.audit where action like 'login%' order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let who: Vec<(&str, &str)> = logins
        .iter()
        .map(|(a, b, _)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("bob", "login.failed"),
            ("nobody", "login.failed"),
            ("bob", "login"),
        ]
    );
    for (_, _, detail) in &logins {
        assert!(!detail.contains("password"), "{detail}");
        assert!(detail.contains("remote"), "{detail}");
    }
}
