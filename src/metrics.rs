//! Process metrics in the Prometheus text format, served at `/metrics` by every process
//! (on the api address with the api role, else on `PGDAG_METRICS_ADDR`; see `observe`).
//!
//! Plain atomic counters and a few histograms: no registry, no labels beyond the few
//! written out below. Each process reports its own counts; sum them across processes in
//! Prometheus. Gauges read from the database at scrape time come in a [`Snapshot`]: queue
//! depth and live servers from every process, instances and task instances by state from
//! the leader alone (so a sum over processes counts them once). `docs/metrics.md` lists
//! every metric.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident => $metric:literal, $help:literal;)+) => {
        $(pub static $name: AtomicU64 = AtomicU64::new(0);)+
        const COUNTERS: &[(&AtomicU64, &str, &str)] = &[$((&$name, $metric, $help)),+];
    };
}

counters! {
    // Counted by `store::db` alone, as each statement is issued: nowhere else.
    QUERIES => "pgdag_queries_total", "SQL statements issued by this process";
    CLAIMS => "pgdag_task_claims_total", "Task attempts claimed by this worker";
    COMPLETIONS => "pgdag_task_completions_total", "Task outcomes accepted from this worker";
    REJECTED => "pgdag_rejected_writes_total", "Worker writes rejected by fencing (stale claim token)";
    FAILOVERS => "pgdag_failover_attempts_total", "Attempts of dead workers failed over by this leader";
    DEAD_SERVERS => "pgdag_dead_servers_total", "Servers declared dead by this leader";
    NOTIFICATIONS => "pgdag_notifications_received_total", "LISTEN notifications received";
    EVALUATIONS => "pgdag_evaluations_total", "Workflow instance evaluations";
    COMMANDS => "pgdag_commands_total", "Commands carried out or failed by this master";
    ALERTS_SENT => "pgdag_alert_deliveries_sent_total", "Alert deliveries sent by this alert process";
    ALERTS_RETRIED => "pgdag_alert_attempts_retried_total", "Alert attempts that failed and will be retried";
    ALERTS_FAILED => "pgdag_alert_deliveries_failed_total", "Alert deliveries given up by this alert process";
}

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// 1 while this process is the leader (set by `cluster::leader`).
pub static LEADER: AtomicU64 = AtomicU64::new(0);

/// Bucket bounds (seconds) for waits and short operations: 1 ms to 5 min.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Bucket bounds (seconds) for task run times: 10 ms to 6 h.
const RUN_BUCKETS: &[f64] = &[
    0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 10800.0, 21600.0,
];

/// A histogram with at most one label (`label` empty: none).
pub struct Histogram {
    pub name: &'static str,
    help: &'static str,
    label: &'static str,
    buckets: &'static [f64],
    series: Mutex<BTreeMap<String, Series>>,
}

#[derive(Default, Clone)]
struct Series {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    const fn new(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        buckets: &'static [f64],
    ) -> Histogram {
        Histogram {
            name,
            help,
            label,
            buckets,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    /// Record one observation of `seconds` (negative values count as 0) under the label
    /// value `label` (ignored by a histogram without a label).
    pub fn observe(&self, label: &str, seconds: f64) {
        let seconds = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        let key = if self.label.is_empty() { "" } else { label };
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = series.entry(key.to_string()).or_default();
        if s.counts.is_empty() {
            s.counts = vec![0; self.buckets.len()];
        }
        for (i, bound) in self.buckets.iter().enumerate() {
            if seconds <= *bound {
                s.counts[i] += 1;
            }
        }
        s.sum += seconds;
        s.count += 1;
    }

    /// Seconds since `start`, observed.
    pub fn since(&self, label: &str, start: std::time::Instant) {
        self.observe(label, start.elapsed().as_secs_f64());
    }

    fn render(&self, out: &mut String) {
        let name = self.name;
        let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", self.help);
        let series = self
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (value, s) in series {
            let labels = if self.label.is_empty() {
                String::new()
            } else {
                format!("{}=\"{}\",", self.label, label_value(&value))
            };
            for (bound, count) in self.buckets.iter().zip(&s.counts) {
                let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", s.count);
            let plain = labels.trim_end_matches(',');
            let braces = if plain.is_empty() {
                String::new()
            } else {
                format!("{{{plain}}}")
            };
            let _ = writeln!(out, "{name}_sum{braces} {}", s.sum);
            let _ = writeln!(out, "{name}_count{braces} {}", s.count);
        }
    }
}

pub static QUEUE_WAIT: Histogram = Histogram::new(
    "pgdag_queue_wait_seconds",
    "Time task attempts waited in the queue, from queued to dispatched (claimed by this worker)",
    "",
    LATENCY_BUCKETS,
);
pub static TASK_RUN: Histogram = Histogram::new(
    "pgdag_task_run_seconds",
    "Run time of the task attempts this worker finished, by task type",
    "task_type",
    RUN_BUCKETS,
);
pub static EVALUATION_ROUND: Histogram = Histogram::new(
    "pgdag_evaluation_round_seconds",
    "Time of one evaluation round of this master: an instance claimed, evaluated and committed",
    "",
    LATENCY_BUCKETS,
);
pub static COMMAND_LATENCY: Histogram = Histogram::new(
    "pgdag_command_latency_seconds",
    "Time commands waited from inserted to taken by this master",
    "",
    LATENCY_BUCKETS,
);
pub static ALERT_DELIVERY: Histogram = Histogram::new(
    "pgdag_alert_delivery_seconds",
    "Time from an alert's creation to its delivery sent by this alert process",
    "",
    LATENCY_BUCKETS,
);

const HISTOGRAMS: &[&Histogram] = &[
    &QUEUE_WAIT,
    &TASK_RUN,
    &EVALUATION_ROUND,
    &COMMAND_LATENCY,
    &ALERT_DELIVERY,
];

/// What a scrape reads from the database.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Queue depth per worker group.
    pub queue_depth: Vec<(String, i64)>,
    /// Live servers per role.
    pub live_servers: Vec<(String, i64)>,
    /// Instances and task instances per state: read by the leader only (`None` elsewhere).
    pub instances: Option<Vec<(String, i64)>>,
    pub task_instances: Option<Vec<(String, i64)>>,
}

fn gauge(out: &mut String, name: &str, help: &str, label: &str, values: &[(String, i64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value, n) in values {
        let value = label_value(value);
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

/// The text exposition: every counter and histogram, and the gauges of `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for (counter, name, help) in COUNTERS {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    for histogram in HISTOGRAMS {
        histogram.render(&mut out);
    }
    let _ = writeln!(
        out,
        "# HELP pgdag_leader 1 while this process is the leader\n# TYPE pgdag_leader gauge\npgdag_leader {}",
        LEADER.load(Ordering::Relaxed)
    );
    gauge(
        &mut out,
        "pgdag_queue_depth",
        "Task attempts waiting in the queue",
        "worker_group",
        &snapshot.queue_depth,
    );
    gauge(
        &mut out,
        "pgdag_live_servers",
        "Live servers (neither stopped nor dead) by role",
        "role",
        &snapshot.live_servers,
    );
    if let Some(instances) = &snapshot.instances {
        gauge(
            &mut out,
            "pgdag_instances",
            "Workflow instances by state (reported by the leader only)",
            "state",
            instances,
        );
    }
    if let Some(tasks) = &snapshot.task_instances {
        gauge(
            &mut out,
            "pgdag_task_instances",
            "Task instances by state (reported by the leader only)",
            "state",
            tasks,
        );
    }
    out
}

/// Every metric name `render` can write (histograms by their base name), for the
/// dashboard test and docs/metrics.md.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = COUNTERS.iter().map(|(_, n, _)| *n).collect();
    names.extend(HISTOGRAMS.iter().map(|h| h.name));
    names.extend([
        "pgdag_leader",
        "pgdag_queue_depth",
        "pgdag_live_servers",
        "pgdag_instances",
        "pgdag_task_instances",
    ]);
    names
}

/// A label value as the text exposition format wants it: backslash, double quote and line
/// feed escaped, so that a value (a worker group is any text a workflow names) cannot end
/// its line and write metric lines of its own.
pub fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_counters_and_escapes_labels() {
        add(&CLAIMS, 3);
        let text = render(&Snapshot {
            queue_depth: vec![("de\"fault".into(), 7)],
            ..Snapshot::default()
        });
        assert!(text.contains("# TYPE pgdag_task_claims_total counter\n"));
        assert!(text.contains("pgdag_queue_depth{worker_group=\"de\\\"fault\"} 7\n"));
    }

    #[test]
    fn a_label_value_cannot_write_lines_of_its_own() {
        let evil = "x\"} 1\npgdag_dead_servers_total 999\n#\\";
        let text = render(&Snapshot {
            queue_depth: vec![(evil.into(), 2)],
            ..Snapshot::default()
        });
        assert!(
            text.contains(
                "pgdag_queue_depth{worker_group=\"x\\\"} 1\\npgdag_dead_servers_total 999\\n#\\\\\"} 2\n"
            ),
            "{text}"
        );
        assert!(!text.lines().any(|l| l == "pgdag_dead_servers_total 999"));
        assert_eq!(label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn every_metric_is_documented() {
        let doc = include_str!("../docs/metrics.md");
        for name in names() {
            assert!(
                doc.contains(&format!("`{name}")),
                "{name} is not in docs/metrics.md"
            );
        }
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        static H: Histogram = Histogram::new("h_seconds", "help", "task_type", &[0.1, 1.0]);
        H.observe("shell", 0.05);
        H.observe("shell", 0.5);
        H.observe("shell", 5.0);
        H.observe("sql", -1.0);
        let mut out = String::new();
        H.render(&mut out);
        assert!(out.contains("# TYPE h_seconds histogram\n"), "{out}");
        assert!(
            out.contains("h_seconds_bucket{task_type=\"shell\",le=\"0.1\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("h_seconds_bucket{task_type=\"shell\",le=\"1\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("h_seconds_bucket{task_type=\"shell\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("h_seconds_sum{task_type=\"shell\"} 5.55\n"),
            "{out}"
        );
        assert!(
            out.contains("h_seconds_count{task_type=\"sql\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("h_seconds_bucket{task_type=\"sql\",le=\"0.1\"} 1\n"),
            "{out}"
        );
    }

    #[test]
    fn leader_gauges_appear_only_when_read() {
        let text = render(&Snapshot::default());
        assert!(text.contains("pgdag_leader "), "{text}");
        assert!(!text.contains("pgdag_instances"), "{text}");
        let text = render(&Snapshot {
            instances: Some(vec![("running".into(), 2)]),
            task_instances: Some(vec![]),
            ..Snapshot::default()
        });
        assert!(
            text.contains("pgdag_instances{state=\"running\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE pgdag_task_instances gauge"), "{text}");
        for name in names() {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }
}
