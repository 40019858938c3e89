//! Scheduling figures: cron fire lateness (fire time → instance started) over many
//! schedules firing every second, and the time to create a 365-date backfill.
//!
//! Runs against the standalone process the bench already started (its leader fires the
//! schedules). The scheduled workflows hold one `empty` task, so the figure is the
//! scheduler's own lateness, not a process spawn.

use std::time::{Duration, Instant};

use pgdag::store::{Store, backfills, definitions, schedules};

pub struct Report {
    pub rows: Vec<(String, String)>,
    pub json: serde_json::Map<String, serde_json::Value>,
}

pub async fn run(store: &Store, schedules_n: usize, seconds: u64) -> Report {
    let mut yaml = String::new();
    for i in 0..schedules_n {
        yaml.push_str(&format!(
            "---\nproject: bench\nname: cron_{i}\nschedule: {{ cron: \"* * * * * ?\" }}\ntasks:\n  - {{ name: t, type: empty }}\n"
        ));
    }
    let specs = pgdag::apply::check_text("cron.yaml", &yaml).expect("bench YAML is valid");
    {
        let mut client = store.client().await.unwrap();
        definitions::apply_all(&mut client, "sql:bench", &specs)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    {
        let client = store.client().await.unwrap();
        for i in 0..schedules_n {
            schedules::set_enabled(&client, "bench", &format!("cron_{i}"), false)
                .await
                .unwrap();
        }
    }
    // Let the last fires become instances.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let client = store.client().await.unwrap();
    // Fires of the first 2 s are the warm-up (every workflow version compiled and cached on
    // its first run): reported apart, not in the percentiles.
    let rows = client
        .query(
            "select (extract(epoch from (started_at - schedule_time)) * 1000)::float8,
                    schedule_time < (select min(schedule_time) from pgdag.workflow_instance
                                     where command_type = 'schedule') + interval '2 s'
             from pgdag.workflow_instance where command_type = 'schedule' and started_at is not null",
            &[],
        )
        .await
        .unwrap();
    let mut lateness: Vec<f64> = rows
        .iter()
        .filter(|r| !r.get::<_, bool>(1))
        .map(|r| r.get(0))
        .collect();
    let warmup_max = rows
        .iter()
        .filter(|r| r.get::<_, bool>(1))
        .map(|r| r.get::<_, f64>(0))
        .fold(0.0, f64::max);
    lateness.sort_by(f64::total_cmp);
    let fires = rows.len();

    // A 365-date backfill, created and rolled back (nothing runs). The cron workflows fire
    // every second (86,400 dates a day), so it backfills a workflow without a schedule:
    // midnight of each of 365 days.
    let mut client = store.client().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let specs = pgdag::apply::check_text(
        "bf.yaml",
        "project: bench\nname: daily\ntasks:\n  - { name: t, type: empty }\n",
    )
    .unwrap();
    definitions::apply_workflow(&tx, "sql:bench", &specs[0])
        .await
        .unwrap();
    let started = Instant::now();
    let (_, ids) = backfills::start(
        &tx,
        "sql:bench",
        "bench",
        "daily",
        &pgdag::cron::backfill::Request {
            span: pgdag::cron::backfill::Span::Range {
                from: "2025-01-01".parse().unwrap(),
                to: "2025-12-31".parse().unwrap(),
            },
            serial: true,
            parallelism: 1,
            descending: false,
            stop_on_failure: false,
            params: serde_json::json!({}),
            options: Default::default(),
        },
    )
    .await
    .unwrap();
    let backfill_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(ids.len(), 365);
    tx.rollback().await.unwrap();

    let p50 = crate::percentile(&lateness, 50.0);
    let p99 = crate::percentile(&lateness, 99.0);
    let mut json = serde_json::Map::new();
    json.insert("cron_schedules".into(), schedules_n.into());
    json.insert("cron_seconds".into(), seconds.into());
    json.insert("cron_fires".into(), fires.into());
    json.insert("cron_lateness_ms_p50".into(), p50.into());
    json.insert("cron_lateness_ms_p99".into(), p99.into());
    json.insert("cron_warmup_lateness_ms_max".into(), warmup_max.into());
    json.insert("backfill_365_create_ms".into(), backfill_ms.into());
    Report {
        rows: vec![
            (
                format!("cron: {schedules_n} schedules every second for {seconds} s"),
                format!("{fires} fires"),
            ),
            (
                "cron fire lateness (fire time -> instance started) p50 / p99".into(),
                format!("{p50:.1} ms / {p99:.1} ms (target p99 <= 100 ms), after a 2 s warm-up"),
            ),
            (
                "cron: worst lateness during the 2 s warm-up".into(),
                format!("{warmup_max:.1} ms"),
            ),
            (
                "create a 365-date backfill".into(),
                format!("{backfill_ms:.0} ms"),
            ),
        ],
        json,
    }
}
