//! Web admin page times: how long the standalone's api takes to answer a page, measured
//! from this process over loopback (an upper bound of the server-side render time), for a
//! project of 500 workflows, an instance of 1,000 tasks (its DAG, Gantt chart and task
//! table) and the 1,000-task workflow's own page.
//!
//! Each workflow of the project has had runs, so its row shows dots. Requests carry an
//! admin's API token (pages accept it as they accept a session cookie).

use std::time::Instant;

use pgdag::store::{Store, definitions, users};

pub struct Report {
    pub rows: Vec<(String, String)>,
    pub json: serde_json::Map<String, serde_json::Value>,
}

/// Requests per page; the first (warm-up) is left out.
const REQUESTS: usize = 21;

/// One page timed: `REQUESTS` GETs of `base` + `path` with the token, the first left out;
/// p50 and p95 of the time until the whole body arrived (ms), and the body's size (bytes).
pub async fn time_page(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
) -> (f64, f64, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..REQUESTS {
        let started = Instant::now();
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        bytes = response.bytes().await.unwrap().len();
        if i > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    (
        crate::percentile(&times, 50.0),
        crate::percentile(&times, 95.0),
        bytes,
    )
}

pub async fn run(store: &Store, base: &str, workflows: usize, fan_instance: i64) -> Report {
    let mut yaml = String::new();
    for i in 0..workflows {
        yaml.push_str(&format!(
            "---\nproject: pages\nname: w{i:03}\ndescription: workflow number {i}\ntasks:\n  - {{ name: a, type: empty }}\n  - {{ name: b, type: empty, depends_on: [a] }}\n"
        ));
    }
    let specs = pgdag::apply::check_text("pages.yaml", &yaml).expect("bench YAML is valid");
    let token = {
        let mut client = store.client().await.unwrap();
        definitions::apply_all(&mut client, "sql:bench", &specs)
            .await
            .unwrap();
        users::add(&client, "bench-pages", None, true)
            .await
            .unwrap();
        users::create_token(&client, "bench-pages", None, None)
            .await
            .unwrap()
            .token
    };
    // Three finished runs of every workflow, for the dots.
    for round in 0..3 {
        let mut ids = Vec::new();
        for i in 0..workflows {
            ids.push(crate::start(store, "pages", &format!("w{i:03}")).await);
        }
        for id in ids {
            crate::wait_final(store, id).await;
        }
        eprintln!("  pages: runs round {} done", round + 1);
    }

    let http = reqwest::Client::new();
    let pages = [
        (
            format!("project page, {workflows} workflows with their last runs"),
            "project_page",
            "/projects/pages".to_string(),
        ),
        (
            "instance page, 1000 tasks (DAG, Gantt, table)".to_string(),
            "instance_page_1000",
            format!("/instances/{fan_instance}"),
        ),
        (
            "instance page refresh fragment, 1000 tasks".to_string(),
            "instance_live_1000",
            format!("/instances/{fan_instance}?partial=live"),
        ),
        (
            "workflow page, 1000-task DAG".to_string(),
            "workflow_page_1000",
            "/projects/bench/workflows/fanout".to_string(),
        ),
        ("home page".to_string(), "home_page", "/".to_string()),
    ];
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    for (label, key, path) in pages {
        let (p50, p95, bytes) = time_page(&http, base, &token, &path).await;
        rows.push((
            label,
            format!(
                "p50 {p50:.1} ms, p95 {p95:.1} ms ({} KiB; target < 50 ms)",
                bytes / 1024
            ),
        ));
        json.insert(format!("{key}_ms_p50"), p50.into());
        json.insert(format!("{key}_ms_p95"), p95.into());
        json.insert(format!("{key}_bytes"), bytes.into());
    }
    Report { rows, json }
}
