//! What an operator sees of a running process (issue 17): names in `pg_stat_activity`,
//! `pgdag servers`, the observability endpoints of every process.

use std::time::{Duration, Instant};

use pgdag::server::Role;

use crate::harness::*;

/// The `application_name`s of the connections to `db` that pgdag opened.
async fn names_in_pg_stat_activity(db: &TestDb) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query(
            "select application_name from pg_stat_activity
             where datname = $1 and application_name like 'pgdag:%' and pid <> pg_backend_pid()
             order by 1",
            &[&db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_named_by_roles_and_server_id_and_servers_shows_host_and_pid() {
    let cluster = TestCluster::start_with(&[Role::Master, Role::Worker], |_| {}).await;
    let id = cluster.running.as_ref().unwrap().server_id();
    let expected = format!("pgdag:master+worker:{id}");
    // The connections opened before the id was known (the start-up checks) close with
    // their pool; wait for them to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    let names = loop {
        let names: Vec<String> = names_in_pg_stat_activity(&cluster.db)
            .await
            .into_iter()
            .filter(|n| n != "pgdag:test")
            .collect();
        if !names.is_empty() && names.iter().all(|n| *n == expected) {
            break names;
        }
        assert!(Instant::now() < deadline, "{names:?}, expected {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The lock connection, the listener and pooled connections.
    assert!(names.len() >= 2, "{names:?}");

    let mut servers = pgdag(&cluster.db);
    servers.arg("servers");
    let out = servers.output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().next().unwrap();
    assert!(header.contains("HOST") && header.contains("PID"), "{text}");
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("server {id} in\n{text}"));
    assert!(row.contains(&host), "{row}");
    assert!(row.contains(&format!(" {} ", std::process::id())), "{row}");
}
