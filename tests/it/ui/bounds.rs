//! Issue 14 in the web admin: the editor keeps references inside the projects its user may
//! touch, and admins manage tenants through forms.

use super::{Browser, FLOW, cluster_with_users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_refuses_a_reference_into_a_project_the_user_may_not_touch() {
    use pgdag::store::members::{self, Access};
    let cluster = cluster_with_users().await;
    cluster.apply(FLOW).await;
    cluster
        .apply("project: q\nname: payroll\ntasks:\n  - { name: pay, type: shell, script: 'echo paid' }\n")
        .await;
    let client = cluster.store.client().await.unwrap();
    members::set(&client, "p", "bob", Access::Write)
        .await
        .unwrap();
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("bob", "bob-password").await.status, 303);
    let edit = |target: &str| {
        format!(
            "project: p\nname: w\ntasks:\n  - {{ name: steal, type: sub_process, workflow: {target} }}\n"
        )
    };
    let page = browser
        .submit(
            "/projects/p/workflows/w/edit",
            &[("yaml", &edit("q/payroll"))],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    let says = "task steal of p/w: its sub_process reference into project q needs write access there, which user bob does not have";
    assert!(page.body.contains(says), "{}", page.body);
    assert!(
        page.body.contains("workflow: q/payroll"),
        "the YAML is kept in the editor"
    );
    // The same words whether or not the workflow exists there.
    let ghost = browser
        .submit(
            "/projects/p/workflows/w/edit",
            &[("yaml", &edit("q/ghost"))],
        )
        .await;
    assert_eq!(ghost.status, 422);
    assert!(ghost.body.contains(says), "{}", ghost.body);
    let versions = pgdag::store::definitions::list_versions(&client, "p", "w")
        .await
        .unwrap();
    assert_eq!(versions.len(), 1, "nothing was saved");

    // With write on q the same edit is saved.
    members::set(&client, "q", "bob", Access::Write)
        .await
        .unwrap();
    let page = browser
        .submit(
            "/projects/p/workflows/w/edit",
            &[("yaml", &edit("q/payroll"))],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Saved as version 2."), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_define_and_delete_tenants_through_forms() {
    let cluster = cluster_with_users().await;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    let page = browser.get("/admin/tenants").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let form = [
        ("name", "etl"),
        ("os_user", "etl_user"),
        ("projects", "p, q"),
        ("default_for", "p"),
    ];
    // Without the CSRF token nothing is written.
    let forged = browser.post("/admin/tenants", &form).await;
    assert_eq!(forged.status, 403);
    let client = cluster.store.client().await.unwrap();
    assert!(
        pgdag::store::tenants::list(&client)
            .await
            .unwrap()
            .is_empty()
    );

    let page = browser.submit("/admin/tenants", &form).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Tenant etl saved (OS user etl_user)."));
    assert!(page.body.contains("<td>etl_user</td>"), "{}", page.body);
    assert!(page.body.contains("<td>p, q</td>"), "{}", page.body);
    let stored = pgdag::store::tenants::get(&client, "etl")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.projects, ["p", "q"]);
    assert_eq!(stored.default_for, ["p"]);

    // A bad OS user and a default the tenant does not allow are refused, saying why.
    let page = browser
        .submit(
            "/admin/tenants",
            &[("name", "bad"), ("os_user", "Root;x"), ("projects", "p")],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("is not an OS user name"),
        "{}",
        page.body
    );
    let page = browser
        .submit(
            "/admin/tenants",
            &[
                ("name", "bad"),
                ("os_user", "bad"),
                ("projects", "q"),
                ("default_for", "p"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("but not in `projects`"), "{}", page.body);

    // A user who is not an admin does not see the page.
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    assert_eq!(bob.get("/admin/tenants").await.status, 403);

    let page = browser
        .submit("/admin/tenants/delete", &[("name", "etl")])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Tenant etl deleted."));
    assert!(
        pgdag::store::tenants::get(&client, "etl")
            .await
            .unwrap()
            .is_none()
    );
}
