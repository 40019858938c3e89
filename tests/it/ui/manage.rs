//! Managing definitions from the web admin (issue 18): Online/Offline on the workflow page
//! (writers), Delete of a workflow and of a project (admins) through a confirm page.

use pgdag::model::Release;
use pgdag::store::definitions;
use pgdag::store::members::{self, Access};

use super::{Browser, cluster_with_users};
use crate::harness::*;

async fn release_of(cluster: &TestCluster, workflow: &str) -> Option<Release> {
    let client = cluster.store.client().await.unwrap();
    definitions::get_spec(&client, "p", workflow, None)
        .await
        .unwrap()
        .map(|(spec, _)| spec.release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_page_takes_a_workflow_offline_and_admins_delete_through_a_confirm_page() {
    let cluster = cluster_with_users().await;
    cluster
        .apply("project: p\nname: w\ntasks: [{name: a, type: empty}]\n---\nproject: p\nname: other\ntasks: [{name: a, type: empty}]\n")
        .await;
    {
        let client = cluster.store.client().await.unwrap();
        members::set(&client, "p", "bob", Access::Write)
            .await
            .unwrap();
    }

    // A writer takes it offline and back online; the button says what it will do.
    let mut bob = Browser::new(&cluster);
    assert_eq!(bob.login("bob", "bob-password").await.status, 303);
    let page = bob.get("/projects/p/workflows/w").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("action=\"/projects/p/workflows/w/offline\"")
    );
    assert!(page.body.contains("Take offline"));
    assert!(
        !page.body.contains("/projects/p/workflows/w/delete"),
        "only admins see Delete"
    );
    let posted = bob.submit("/projects/p/workflows/w/offline", &[]).await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location, "/projects/p/workflows/w");
    assert_eq!(release_of(&cluster, "w").await, Some(Release::Offline));
    let page = bob.get("/projects/p/workflows/w").await;
    assert!(
        page.body
            .contains("action=\"/projects/p/workflows/w/online\"")
    );
    assert!(page.body.contains("Put online"));
    assert_eq!(
        bob.submit("/projects/p/workflows/w/online", &[])
            .await
            .status,
        303
    );
    assert_eq!(release_of(&cluster, "w").await, Some(Release::Online));
    // Without the CSRF token nothing changes.
    let forged = bob.post("/projects/p/workflows/w/offline", &[]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(release_of(&cluster, "w").await, Some(Release::Online));

    // A writer who is no admin gets neither the confirm page nor the deletion.
    assert_eq!(bob.get("/projects/p/workflows/w/delete").await.status, 403);
    assert_eq!(
        bob.submit("/projects/p/workflows/w/delete", &[])
            .await
            .status,
        403
    );
    assert_eq!(bob.submit("/projects/p/delete", &[]).await.status, 403);
    assert_eq!(release_of(&cluster, "w").await, Some(Release::Online));

    // An admin: the link, the confirm page, then the form deletes it.
    let mut root = Browser::new(&cluster);
    assert_eq!(root.login("root", "root-password").await.status, 303);
    let page = root.get("/projects/p/workflows/w").await;
    assert!(
        page.body
            .contains("href=\"/projects/p/workflows/w/delete\"")
    );
    let confirm = root.get("/projects/p/workflows/w/delete").await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("Delete workflow p/w?"),
        "{}",
        confirm.body
    );
    assert!(
        confirm
            .body
            .contains("action=\"/projects/p/workflows/w/delete\"")
    );
    assert!(!confirm.body.contains("onclick"), "no inline script");
    let deleted = root.submit("/projects/p/workflows/w/delete", &[]).await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(deleted.location, "/projects/p");
    assert_eq!(release_of(&cluster, "w").await, None);
    assert_eq!(root.get("/projects/p/workflows/w/delete").await.status, 404);

    // The project page offers Delete to admins only; it goes with its other workflow.
    assert!(
        !bob.get("/projects/p")
            .await
            .body
            .contains("/projects/p/delete")
    );
    let page = root.get("/projects/p").await;
    assert!(page.body.contains("href=\"/projects/p/delete\""));
    let confirm = root.get("/projects/p/delete").await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete project p?"));
    let deleted = root
        .submit("/projects/p/delete", &[("with_history", "1")])
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(deleted.location, "/projects");
    assert_eq!(release_of(&cluster, "other").await, None);
    let client = cluster.store.client().await.unwrap();
    let projects = definitions::list_projects(&client, None).await.unwrap();
    assert!(projects.iter().all(|p| p.name != "p"), "{projects:?}");
}

/// The instance page's task table offers "hold" on a task that has not started and
/// "release" on a held one; the forms send the commands and come back to the instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_page_holds_and_releases_a_task_with_its_buttons() {
    let cluster = cluster_with_users().await;
    let dir = temp_dir();
    let go = dir.path().join("go");
    cluster
        .apply(&format!(
            "project: p\nname: h\ntasks:\n  - {{ name: a, type: shell, script: 'while [ ! -f {} ]; do sleep 0.05; done' }}\n  - {{ name: b, type: shell, script: 'echo b', depends_on: [a] }}\n",
            go.display()
        ))
        .await;
    let id = cluster.run("p/h", serde_json::json!({})).await;
    let get = |cluster: &TestCluster| {
        let store = cluster.store.clone();
        async move {
            let client = store.client().await.unwrap();
            pgdag::store::instances::get(&client, id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let b = loop {
        let d = get(&cluster).await;
        if d.tasks.as_ref().is_some_and(|t| !t.is_empty()) {
            break task(&d, "b").id;
        }
        assert!(std::time::Instant::now() < deadline, "no tasks: {d:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut root = Browser::new(&cluster);
    assert_eq!(root.login("root", "root-password").await.status, 303);
    let page = root.get(&format!("/instances/{id}")).await;
    assert!(
        page.body
            .contains(&format!("action=\"/task-instances/{b}/hold\"")),
        "{}",
        page.body
    );
    let posted = root.submit(&format!("/task-instances/{b}/hold"), &[]).await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location, format!("/instances/{id}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !task(&get(&cluster).await, "b").held {
        assert!(std::time::Instant::now() < deadline, "b was not held");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = root.get(&format!("/instances/{id}")).await;
    assert!(
        page.body
            .contains(&format!("action=\"/task-instances/{b}/release\""))
    );
    assert!(
        !page
            .body
            .contains(&format!("action=\"/task-instances/{b}/hold\""))
    );
    let posted = root
        .submit(&format!("/task-instances/{b}/release"), &[])
        .await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    std::fs::write(&go, "").unwrap();
    let done = cluster.wait_final(id).await;
    assert_eq!(done.state, "succeeded");
    assert!(!task(&done, "b").held);
}
