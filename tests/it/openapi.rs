//! The OpenAPI document against the live API: `GET /api/v1/openapi.json` needs no token,
//! and Schemathesis (from PyPI: `pip install schemathesis`) calls every operation of it
//! against a real `pgdag standalone` with an admin token, a bounded number of examples
//! each, and fails on any 5xx or any answer the document does not allow (status, content
//! type, headers, body schema).
//!
//! Skipped, saying why, when no `st` binary is found (`PGDAG_SCHEMATHESIS` names one, else
//! `st` on PATH); `PGDAG_REQUIRE_SCHEMATHESIS=1` (CI) makes that a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

/// Examples per operation and phase: enough to reach every answer, a few minutes in all.
const EXAMPLES: &str = "15";

fn schemathesis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGDAG_SCHEMATHESIS") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join("st"))
        .find(|p| p.is_file())
}

/// `pgdag standalone` on a free port; the process and its base URL.
fn start_standalone(db: &TestDb) -> (ChildGuard, String) {
    let mut command = pgdag(db);
    command
        .arg("standalone")
        .env("PGDAG_ADMIN_PASSWORD", "pw")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = ChildGuard(command.spawn().expect("spawn pgdag standalone"));
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("pgdag api listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("standalone says where the API listens");
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_without_a_token_and_schemathesis_finds_nothing() {
    let st = schemathesis();
    if st.is_none() {
        assert!(
            std::env::var_os("PGDAG_REQUIRE_SCHEMATHESIS").is_none(),
            "PGDAG_REQUIRE_SCHEMATHESIS is set but no st binary was found"
        );
    }
    let db = TestDb::new().await;
    let (_standalone, base) = start_standalone(&db);

    let answer = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let document: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(document["openapi"], "3.0.3");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/projects/{p}/workflows/{w}/runs"));
    assert!(paths.contains_key("/task-instances/{id}/log"));

    let Some(st) = st else {
        eprintln!("skipped the Schemathesis run: no st binary (pip install schemathesis)");
        return;
    };
    let mut token = pgdag(&db);
    token.args(["token", "create", "--user", "admin"]);
    let made = token.output().unwrap();
    assert!(made.status.success(), "{made:?}");
    let token = String::from_utf8(made.stdout).unwrap().trim().to_string();

    // Two runs: revoking a token (`DELETE /tokens/{id}`, whose examples include the id of
    // the run's own token) would turn every later call into a 401, so that operation runs
    // alone, after all the others.
    let revoke = ["--include-operation-id", "delete /tokens/{id}"];
    let others = ["--exclude-operation-id", "delete /tokens/{id}"];
    for filter in [&others[..], &revoke[..]] {
        let (st, base, token) = (st.clone(), base.clone(), token.clone());
        let filter: Vec<String> = filter.iter().map(|a| a.to_string()).collect();
        let report = tempfile::tempdir().unwrap();
        let run = tokio::task::spawn_blocking(move || {
            Command::new(st)
                .arg("run")
                .arg(format!("{base}/api/v1/openapi.json"))
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,\
                     response_headers_conformance,response_schema_conformance",
                ])
                .args(&filter)
                .args(["--max-examples", EXAMPLES])
                .args(["--phases", "examples,coverage,fuzzing"])
                // One worker: Python 3.11 can fail compiling modules imported from two threads.
                .args(["--workers", "1", "--seed", "17", "--no-color"])
                .args(["--generation-database", "none"])
                .arg("--report-dir")
                .arg(report.path())
                // Its crash cache (`.schemathesis/`) goes there too, not into the repository.
                .current_dir(report.path())
                .stdin(Stdio::null())
                .output()
                .expect("run st")
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&run.stdout);
        let err = String::from_utf8_lossy(&run.stderr);
        println!("{out}");
        assert!(
            run.status.success(),
            "Schemathesis found failures:\n{out}\n{err}"
        );
    }
}
