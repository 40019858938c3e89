//! Process metrics in the Prometheus text format, served at `/metrics` by the api role.
//!
//! Plain atomic counters: no registry, no labels beyond the few written out below. Each
//! process reports its own counts; sum them across processes in Prometheus. The queue depth
//! is read from the database at scrape time.

use std::fmt::Write;
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

/// The text exposition: every counter, plus the queue depth per worker group.
pub fn render(queue_depth: &[(String, i64)]) -> String {
    let mut out = String::new();
    for (counter, name, help) in COUNTERS {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP pgdag_queue_depth Task attempts waiting in the queue\n# TYPE pgdag_queue_depth gauge"
    );
    for (group, depth) in queue_depth {
        let group = label_value(group);
        let _ = writeln!(out, "pgdag_queue_depth{{worker_group=\"{group}\"}} {depth}");
    }
    out
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
        let text = render(&[("de\"fault".into(), 7)]);
        assert!(text.contains("# TYPE pgdag_task_claims_total counter\n"));
        assert!(text.contains("pgdag_queue_depth{worker_group=\"de\\\"fault\"} 7\n"));
    }

    #[test]
    fn a_label_value_cannot_write_lines_of_its_own() {
        let evil = "x\"} 1\npgdag_dead_servers_total 999\n#\\";
        let text = render(&[(evil.into(), 2)]);
        assert!(
            text.contains(
                "pgdag_queue_depth{worker_group=\"x\\\"} 1\\npgdag_dead_servers_total 999\\n#\\\\\"} 2\n"
            ),
            "{text}"
        );
        assert!(!text.lines().any(|l| l == "pgdag_dead_servers_total 999"));
        assert_eq!(label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
