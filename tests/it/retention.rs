//! What each attempt cost (CPU time, peak RSS) and history that stays small: retention of
//! every kind of row, a workflow's own retention, and task logs pruned by dropping weekly
//! partitions.

use std::time::{Duration, Instant};

use pgdag::store::cluster;

use crate::harness::{TestCluster, pgdag, task, task_and_log_rows};

/// A shell task that touches 64 MiB and spins: its CPU time and peak RSS show over REST
/// and in `pgdag status` (table and JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_attempt_reports_its_cpu_time_and_peak_rss() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(concat!(
            "project: cost\nname: burn\ntasks:\n",
            "  - name: burn\n    type: shell\n    script: |\n",
            "      python3 -c 'b = bytearray(64 << 20)\n",
            "      for i in range(0, len(b), 4096): b[i] = 1\n",
            "      n = 0\n",
            "      for i in range(3000000): n += i'\n",
            "  - { name: quiet, type: empty }\n",
        ))
        .await;
    let id = cluster.run("cost/burn", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    assert_eq!(detail.state, "succeeded", "{:?}", detail.tasks);

    let token = cluster.api_token("ops").await;
    let body = cluster.get_api(&token, &format!("/instances/{id}")).await;
    let tasks = body["tasks"].as_array().unwrap();
    let burn = tasks.iter().find(|t| t["name"] == "burn").unwrap();
    assert!(burn["cpu_user_ms"].as_i64().unwrap() > 0, "{burn}");
    assert!(burn["cpu_system_ms"].as_i64().is_some(), "{burn}");
    // The interpreter's own ~10 MiB plus the 64 MiB it touched.
    assert!(burn["max_rss_kib"].as_i64().unwrap() > 64 * 1024, "{burn}");
    // A task that ran no process has no figures.
    let quiet = tasks.iter().find(|t| t["name"] == "quiet").unwrap();
    assert!(
        quiet["cpu_user_ms"].is_null() && quiet["max_rss_kib"].is_null(),
        "{quiet}"
    );

    let out = pgdag(&cluster.db)
        .args(["status", &id.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_cli = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "burn")
        .unwrap();
    assert_eq!(from_cli["max_rss_kib"], burn["max_rss_kib"]);
    let out = pgdag(&cluster.db)
        .args(["status", &id.to_string()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("CPU USER") && table.contains("MAX RSS"),
        "{table}"
    );
    assert!(table.contains(" MiB"), "{table}");

    // SQL clients read the same figures from the view.
    let client = cluster.store.client().await.unwrap();
    let row = client
        .query_one(
            "select cpu_user_ms, max_rss_kib from pgdag.task_instance_v where workflow_instance_id = $1 and name = 'burn'",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<i64>>(0), burn["cpu_user_ms"].as_i64());
    assert_eq!(row.get::<_, Option<i64>>(1), burn["max_rss_kib"].as_i64());
}

async fn count(client: &tokio_postgres::Client, sql: &str, id: i64) -> i64 {
    client.query_one(sql, &[&id]).await.unwrap().get(0)
}

/// Prunes until a round deletes nothing (each kind goes in batches of 500).
async fn prune_all(
    client: &deadpool_postgres::Object,
    days: i32,
    at: chrono::DateTime<chrono::Utc>,
) {
    cluster::log_partitions(client, days, Some(at))
        .await
        .unwrap();
    while cluster::prune(client, days, Some(at)).await.unwrap() > 0 {}
}

/// Every kind of row older than retention goes, newer rows stay, and a workflow's own
/// `retention` wins over the global one (its instance, tasks, logs and fires stay, and so
/// does the log partition that holds its rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_every_kind_of_old_row_and_a_workflow_may_keep_longer() {
    let cluster = TestCluster::start().await;
    let shell = |name: &str, extra: &str, script: &str| {
        format!(
            "project: keep\nname: {name}\n{extra}schedule: {{ cron: '0 0 0 1 1 ?' }}\ntasks:\n  - {{ name: t, type: shell, script: '{script}' }}\n"
        )
    };
    cluster
        .apply(&format!(
            "{}---\n{}---\n{}",
            shell("short", "", "echo short"),
            shell("failing", "", "echo no; exit 3"),
            shell("long", "retention: 400d\n", "echo long"),
        ))
        .await;
    let short = cluster.run("keep/short", serde_json::json!({})).await;
    let failing = cluster.run("keep/failing", serde_json::json!({})).await;
    let paused = cluster.run("keep/short", serde_json::json!({})).await;
    let long = cluster.run("keep/long", serde_json::json!({})).await;
    for id in [short, failing, paused, long] {
        cluster.wait_final(id).await;
    }
    let client = cluster.store.client().await.unwrap();
    // A paused instance (final: nothing runs until someone resumes it) is pruned like the
    // others; setting the state here stands for a pause that came before its last task.
    client
        .execute(
            "update pgdag.workflow_instance set state = 'paused' where id = $1",
            &[&paused],
        )
        .await
        .unwrap();
    // One row of each other kind, as their writers leave them (the event due far ahead, so
    // that no evaluation takes it first).
    client
        .batch_execute(&format!(
            "insert into pgdag.instance_event (workflow_instance_id, due_at) values ({short}, now() + interval '1000 days');
             insert into pgdag.alert (kind, workflow_instance_id, state) values ('instance_failed', {failing}, 'sent');
             insert into pgdag.alert (kind, workflow_instance_id, state) values ('instance_failed', {long}, 'sent');
             insert into pgdag.alert (kind, state) values ('server_dead', 'sent');
             insert into pgdag.schedule_fire (schedule_id, fire_time, workflow_instance_id)
                 select s.id, now(), {short} from pgdag.schedule s
                 join pgdag.workflow_definition wd on wd.code = s.workflow_code and wd.name = 'short';
             insert into pgdag.schedule_fire (schedule_id, fire_time, workflow_instance_id)
                 select s.id, now(), {long} from pgdag.schedule s
                 join pgdag.workflow_definition wd on wd.code = s.workflow_code and wd.name = 'long';
             insert into pgdag.command (command_type, project, workflow, state, error, processed_at)
                 values ('start', 'keep', 'gone', 'failed', 'no such workflow', now());
             insert into pgdag.backfill (project_id, workflow_code, mode, parallelism, run_order, state, dates, ended_at)
                 select project_id, code, 'serial', 1, 'asc', 'succeeded', '[]', now()
                 from pgdag.workflow_definition where name = 'short';"
        ))
        .await
        .unwrap();
    let instances = "select count(*) from pgdag.workflow_instance where id = $1";
    let logs = "select count(*) from pgdag.task_log l join pgdag.task_instance t on t.id = l.task_instance_id where t.workflow_instance_id = $1";
    let all =
        |table: &str| format!("select count(*) from pgdag.{table} where $1::bigint is not null");

    // Ten days on: all of it is newer than the 30 days of retention.
    let now = chrono::Utc::now();
    prune_all(&client, 30, now + chrono::Duration::days(10)).await;
    for id in [short, failing, paused, long] {
        assert_eq!(count(&client, instances, id).await, 1);
        assert!(count(&client, logs, id).await > 0);
    }
    for (table, n) in [
        ("schedule_fire", 2),
        ("backfill", 1),
        ("alert", 3),
        ("instance_event", 1),
    ] {
        assert_eq!(count(&client, &all(table), 0).await, n, "{table}");
    }
    assert_eq!(count(&client, &all("command"), 0).await, 1);
    assert!(count(&client, &all("audit"), 0).await > 0);

    // Forty days on: everything past 30 days is gone but what `long` keeps for 400.
    let mut pruned_tasks: Vec<i64> = Vec::new();
    for id in [short, failing, paused] {
        let rows = client
            .query(
                "select id from pgdag.task_instance where workflow_instance_id = $1",
                &[&id],
            )
            .await
            .unwrap();
        pruned_tasks.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    }
    assert!(!pruned_tasks.is_empty());
    prune_all(&client, 30, now + chrono::Duration::days(40)).await;
    for id in [short, failing, paused] {
        assert_eq!(count(&client, instances, id).await, 0, "instance {id}");
        assert_eq!(count(&client, logs, id).await, 0, "logs of {id}");
    }
    // Their task rows and the log rows in the week `long` keeps went with them, none left
    // behind without its task (V24: no cascade does it).
    assert_eq!(
        task_and_log_rows(&client, &pruned_tasks).await,
        0,
        "task or log rows of pruned instances left"
    );
    assert_eq!(count(&client, instances, long).await, 1);
    assert!(count(&client, logs, long).await > 0);
    assert_eq!(
        count(
            &client,
            "select count(*) from pgdag.schedule_fire where workflow_instance_id = $1",
            long
        )
        .await,
        1
    );
    assert_eq!(count(&client, &all("schedule_fire"), 0).await, 1);
    assert_eq!(
        count(
            &client,
            "select count(*) from pgdag.alert where workflow_instance_id is distinct from $1",
            long
        )
        .await,
        0
    );
    for table in ["instance_event", "backfill", "command", "audit"] {
        assert_eq!(count(&client, &all(table), 0).await, 0, "{table}");
    }

    // Past the workflow's own 400 days it goes too, and so do the log partitions.
    prune_all(&client, 30, now + chrono::Duration::days(410)).await;
    assert_eq!(count(&client, instances, long).await, 0);
    assert_eq!(count(&client, &all("task_log"), 0).await, 0);
    assert_eq!(count(&client, &all("schedule_fire"), 0).await, 0);
}

/// Size of the task log on disk: every partition with its indexes and TOAST.
async fn log_bytes(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "select coalesce(sum(pg_total_relation_size(relid)), 0)::bigint from pg_partition_tree('pgdag.task_log')",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// A million log rows in old weekly partitions go by dropping the partitions: in a short
/// transaction, and the space goes back at once (no dead rows left for vacuum).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_old_log_rows_are_pruned_by_dropping_partitions() {
    let cluster = TestCluster::start().await;
    cluster
        .apply(
            "project: big\nname: chatty\ntasks:\n  - { name: t, type: shell, script: 'echo hi' }\n",
        )
        .await;
    let id = cluster.run("big/chatty", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    let task_id = task(&detail, "t").id;
    let client = cluster.store.client().await.unwrap();
    // Four weekly partitions from nine weeks back, filled with one statement.
    client
        .batch_execute("select pgdag.task_log_create_partitions(now() - interval '63 days', 3)")
        .await
        .unwrap();
    let filled = Instant::now();
    let inserted = client
        .execute(
            "insert into pgdag.task_log (task_instance_id, seq, attempt, text, created_at)
             select $1, 1000 + g, 1, 'line ' || g || ' of a chatty task, long enough to look like output',
                    now() - interval '60 days' + (g % 14) * interval '1 day'
             from generate_series(1, 1000000) g",
            &[&task_id],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1_000_000);
    let fill_time = filled.elapsed();
    let before = log_bytes(&client).await;
    assert!(before > 50 * 1024 * 1024, "{before} bytes");

    // The instance ended now; forty days on its retention of 30 has passed.
    let at = chrono::Utc::now() + chrono::Duration::days(40);
    let started = Instant::now();
    let (_, dropped) = cluster::log_partitions(&client, 30, Some(at))
        .await
        .unwrap();
    let prune_time = started.elapsed();
    let after = log_bytes(&client).await;
    let left: i64 = client
        .query_one(
            "select count(*) from pgdag.task_log where task_instance_id = $1",
            &[&task_id],
        )
        .await
        .unwrap()
        .get(0);
    println!(
        "1,000,000 log rows: filled in {fill_time:?}; {before} bytes before, {after} after; \
         pruned in {prune_time:?} by dropping {dropped:?}"
    );
    assert_eq!(left, 0);
    assert!(dropped.len() >= 3, "{dropped:?}");
    // What is left is the empty default partition and the weeks ahead (a few pages each).
    assert!(after < 1024 * 1024, "{after} bytes left");
    assert!(prune_time < Duration::from_secs(10), "{prune_time:?}");
    // The instance row itself goes with the ordinary prune; nothing is left to cascade.
    while cluster::prune(&client, 30, Some(at)).await.unwrap() > 0 {}
    assert_eq!(
        count(
            &client,
            "select count(*) from pgdag.workflow_instance where id = $1",
            id
        )
        .await,
        0
    );
}
