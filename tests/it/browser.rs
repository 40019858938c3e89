//! The web admin in a real browser: headless Chromium driven through ChromeDriver, against
//! the real `pgdag server` binary. A user logs in, opens a workflow, starts a run from the
//! run dialog, reads a task's log while it is written, watches the instance page turn
//! `succeeded` by itself (htmx), and reruns a failed task from its instance page.
//! Screenshots of each step go to `target/ui-screenshots/` (not in git).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use crate::harness::*;
use crate::webdriver::{self, Browser};

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots")
}

/// The real binary with the api, master and worker roles; returns it and its base URL.
fn start_server(db: &TestDb, env: &[(&str, &str)]) -> (ChildGuard, String) {
    let mut command = pgdag(db);
    command.args(["server", "--roles", "api,master,worker"]);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = spawn(command);
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("pgdag api listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server says where it listens");
    (child, base)
}

const FLOWS: &str = r#"project: ui
name: pipeline
description: Says hello, then ticks for a while
tasks:
  - { name: first, type: shell, script: 'echo "first says ${who}"' }
  - { name: slow, type: shell, depends_on: [first], script: 'for i in 1 2 3 4; do echo "tick $i"; sleep 1; done' }
---
project: ui
name: flaky
tasks:
  - { name: prepare, type: shell, script: 'echo preparing' }
  - name: check
    type: shell
    depends_on: [prepare]
    script: |
      if [ -f "$PGDAG_PARAM_MARKER" ]; then echo "the marker is there"; else touch "$PGDAG_PARAM_MARKER"; echo "no marker yet" >&2; exit 3; fi
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_runs_watches_reads_the_log_and_reruns_a_failed_task_in_a_real_browser() {
    if !webdriver::available() {
        assert!(
            std::env::var_os("PGDAG_REQUIRE_BROWSER").is_none(),
            "PGDAG_REQUIRE_BROWSER is set but Chromium or ChromeDriver is missing"
        );
        eprintln!(
            "skipped: no {} / {} (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        );
        return;
    }
    let db = TestDb::new().await;
    let store = db.store();
    {
        let client = store.client().await.unwrap();
        pgdag::store::users::add(&client, "ada", Some("ada-password"), true)
            .await
            .unwrap();
    }
    apply(&store, FLOWS).await;
    let (_server, base) = start_server(&db, &[]);
    let shots = screenshots();
    let browser = Browser::start().await;

    // Log in: an anonymous visit lands on the login page and comes back after it.
    browser.goto(&format!("{base}/projects")).await;
    browser.find("form.login-card").await;
    browser.screenshot(&shots, "01-login").await;
    browser
        .type_into(&browser.find("input[name=name]").await, "ada")
        .await;
    browser
        .type_into(&browser.find("input[name=password]").await, "ada-password")
        .await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    browser.find("a[href=\"/projects/ui\"]").await;
    assert!(browser.current_url().await.ends_with("/projects"));

    // Open the workflow and start a run from the run dialog.
    browser
        .click(&browser.find("a[href=\"/projects/ui\"]").await)
        .await;
    browser
        .click(
            &browser
                .find("a[href=\"/projects/ui/workflows/pipeline\"]")
                .await,
        )
        .await;
    browser.find("svg.pgdag-dag").await;
    browser.screenshot(&shots, "02-workflow").await;
    browser.click(&browser.find("#run > summary").await).await;
    browser
        .type_into(
            &browser.find("textarea[name=params]").await,
            "who=the browser",
        )
        .await;
    browser.screenshot(&shots, "03-run-dialog").await;
    browser.click(&browser.find("#start-run").await).await;
    browser.find("#instance-state").await;
    let url = browser.current_url().await;
    let id: i64 = url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("on an instance page: {url}"));
    browser.screenshot(&shots, "04-instance-started").await;

    // The log of `slow`, while it is written: lines arrive without a reload.
    browser
        .click(
            &browser
                .find("tr[data-task=\"slow\"] a[href$=\"/log\"]")
                .await,
        )
        .await;
    browser.find("pre#log").await;
    browser
        .wait_for(
            "the first tick in the live log",
            Duration::from_secs(30),
            "return document.getElementById('log').textContent.includes('tick 1');",
        )
        .await;
    let early = browser.text(&browser.find("pre#log").await).await;
    assert!(
        !early.contains("exit code"),
        "the page was opened while the task ran: {early}"
    );
    browser.screenshot(&shots, "05-live-log").await;
    browser
        .wait_for(
            "the whole log",
            Duration::from_secs(30),
            "return document.getElementById('log').textContent.includes('[pgdag] succeeded');",
        )
        .await;
    let log = browser.text(&browser.find("pre#log").await).await;
    for line in ["tick 1", "tick 2", "tick 3", "tick 4", "exit code 0"] {
        assert!(log.contains(line), "{line:?} in {log}");
    }
    assert_eq!(log.matches("tick 2").count(), 1, "no line twice: {log}");
    browser.screenshot(&shots, "06-log-finished").await;

    // The instance page turns succeeded by itself (htmx refresh, no reload).
    browser.goto(&format!("{base}/instances/{id}")).await;
    browser
        .wait_for(
            "the instance to succeed on its page",
            Duration::from_secs(30),
            "return document.getElementById('instance-state').textContent.trim() === 'succeeded';",
        )
        .await;
    browser.screenshot(&shots, "07-instance-succeeded").await;
    let client = store.client().await.unwrap();
    let detail = pgdag::store::instances::get(&client, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.state, "succeeded");
    let first = task(&detail, "first");
    let first_log = log_text(&store, first.id).await;
    assert!(first_log.contains("first says the browser"), "{first_log}");

    // A failing run, then "Rerun from failed" on its page.
    let marker_dir = temp_dir();
    let marker = marker_dir.path().join("marker");
    browser
        .goto(&format!("{base}/projects/ui/workflows/flaky"))
        .await;
    browser.click(&browser.find("#run > summary").await).await;
    browser
        .type_into(
            &browser.find("textarea[name=params]").await,
            &format!("marker={}", marker.display()),
        )
        .await;
    browser.click(&browser.find("#start-run").await).await;
    browser.find("#instance-state").await;
    let url = browser.current_url().await;
    let failing: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
    browser
        .wait_for(
            "the instance to fail",
            Duration::from_secs(30),
            "return document.getElementById('instance-state').textContent.trim() === 'failed';",
        )
        .await;
    // The refreshed fragment brings the buttons of the new state.
    browser.find("#action-start-failed").await;
    browser.screenshot(&shots, "08-instance-failed").await;
    let before = pgdag::store::instances::get(&client, failing)
        .await
        .unwrap()
        .unwrap();
    let prepare_before = task(&before, "prepare").clone();
    assert_eq!(task(&before, "check").state, "failed");
    // The page refreshes its fragment every few seconds: on a loaded machine a click can
    // land on a form that is being replaced and never submit. The rerun has started once
    // the instance is no longer `failed` (a bounded poll on that state); otherwise click
    // the fresh button again, up to four clicks in all.
    let mut clicks = 0;
    'rerun: loop {
        browser
            .click(&browser.find("#action-start-failed").await)
            .await;
        clicks += 1;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let state = pgdag::store::instances::get(&client, failing)
                .await
                .unwrap()
                .unwrap()
                .state;
            if state != "failed" {
                break 'rerun;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            clicks < 4,
            "four clicks on \"Rerun from failed\" started nothing"
        );
    }
    browser
        .wait_for(
            "the rerun to succeed",
            Duration::from_secs(60),
            "const s = document.getElementById('instance-state'); return !!s && s.textContent.trim() === 'succeeded';",
        )
        .await;
    browser.screenshot(&shots, "09-rerun-succeeded").await;
    let after = pgdag::store::instances::get(&client, failing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state, "succeeded");
    assert_eq!(task(&after, "check").state, "succeeded");
    // Only the failed task ran again: the one that had succeeded kept its run.
    let prepare_after = task(&after, "prepare");
    assert_eq!(prepare_after.started_at, prepare_before.started_at);
    assert_eq!(prepare_after.attempt, prepare_before.attempt);
    let check_log = log_text(&store, task(&after, "check").id).await;
    assert!(check_log.contains("the marker is there"), "{check_log}");
    assert!(shots.join("09-rerun-succeeded.png").exists());

    // The workflow page takes the workflow offline and puts it online again.
    let release = || async {
        client
            .query_one(
                "select release from pgdag.workflow_definition where name = 'pipeline'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    browser
        .goto(&format!("{base}/projects/ui/workflows/pipeline"))
        .await;
    browser
        .click(&browser.find("form[action$=\"/offline\"] button").await)
        .await;
    browser.find("form[action$=\"/online\"] button").await;
    browser.screenshot(&shots, "10-workflow-offline").await;
    assert_eq!(release().await, "offline");
    browser
        .click(&browser.find("form[action$=\"/online\"] button").await)
        .await;
    browser.find("form[action$=\"/offline\"] button").await;
    assert_eq!(release().await, "online");
}
