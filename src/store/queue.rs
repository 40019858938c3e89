//! The worker side of the task queue: claim attempts, report progress, logs and outcomes.
//! Every write about an attempt is fenced by `(task_instance_id, claim_token)`.

use std::collections::HashSet;

use super::Now;
use uuid::Uuid;

use super::Result;
use super::db::{Conn, query};

#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub id: i64,
    pub workflow_instance_id: i64,
    pub name: String,
    pub task_type: String,
    pub attempt: i32,
    pub claim_token: Uuid,
    pub payload: serde_json::Value,
    /// The next log sequence number for this task instance.
    pub next_seq: i32,
    /// (instance priority, instance id, task priority, task id): the seed's queue order.
    pub order_key: (i16, i64, i16, i64),
    /// The datasource the payload names (`sql`, `procedure`), as it was at claim time:
    /// read with the claim so that an attempt costs no lookup of its own.
    pub datasource: Option<super::datasources::DatasourceRecord>,
}

/// Claim up to `limit` attempts that run a process and up to `in_process_limit` that run
/// in the worker's process, for these worker groups, each kind in queue order.
pub async fn claim(
    client: &impl Conn,
    worker_groups: &[String],
    limit: i64,
    in_process_limit: i64,
    host: &str,
    server_id: i64,
) -> Result<Vec<ClaimedTask>> {
    let rows = client
        .fetch(
            query!("queue/claim"),
            &[&worker_groups, &limit, &host, &server_id, &in_process_limit],
        )
        .await?;
    let mut tasks: Vec<ClaimedTask> = rows
        .iter()
        .map(|r| ClaimedTask {
            id: r.get("id"),
            workflow_instance_id: r.get("workflow_instance_id"),
            name: r.get("name"),
            task_type: r.get("task_type"),
            attempt: r.get("attempt"),
            claim_token: r.get("claim_token"),
            payload: r
                .get::<_, Option<serde_json::Value>>("payload")
                .unwrap_or(serde_json::Value::Null),
            next_seq: r.get("next_seq"),
            order_key: (
                r.get("workflow_priority"),
                r.get("workflow_instance_id"),
                r.get("task_priority"),
                r.get("id"),
            ),
            datasource: r.get::<_, Option<String>>("ds_type").map(|db_type| {
                super::datasources::DatasourceRecord {
                    db_type,
                    url: r.get("ds_url"),
                    password_env: r.get("ds_password_env"),
                    password_secret: r.get("ds_password_secret"),
                }
            }),
        })
        .collect();
    for r in &rows {
        crate::metrics::QUEUE_WAIT.observe("", r.get("queue_wait_s"));
    }
    // RETURNING does not keep the ORDER BY of the claim; start them in queue order.
    tasks.sort_by_key(|t| t.order_key);
    Ok(tasks)
}

#[derive(Debug, Clone)]
pub struct LogChunk {
    pub task_instance_id: i64,
    pub claim_token: Uuid,
    pub seq: i32,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub task_instance_id: i64,
    pub claim_token: Uuid,
    /// `succeeded`, `failed`, `failed_final` or `killed`; the database turns `failed` (not
    /// `failed_final`) into `retrying` while retries remain.
    pub outcome: &'static str,
    pub exit_code: Option<i32>,
    pub out_params: serde_json::Value,
    pub error: Option<String>,
    /// What a `sql` task kept of its result (rows, or rows affected).
    pub result: Option<serde_json::Value>,
    /// What the attempt's process cost (`tasks::usage`): CPU user and system time in
    /// milliseconds and peak RSS in KiB; `None` for attempts that ran no process.
    pub usage: Option<[i64; 3]>,
    /// How long the attempt ran, by the worker's clock: its `started_at` when it was never
    /// marked `running` is its end minus this.
    pub ran_us: Option<i64>,
}

/// An alert about an attempt, raised by its worker (written only while its claim holds).
#[derive(Debug, Clone)]
pub struct TaskAlert {
    pub task_instance_id: i64,
    pub claim_token: Uuid,
    pub kind: &'static str,
    pub message: String,
}

/// An attempt's `running` mark: it began `ran_us` before the flush that writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningMark {
    pub task_instance_id: i64,
    pub claim_token: Uuid,
    pub ran_us: i64,
}

/// What one flush wrote; writes from a fenced-out (zombie) claim are counted as rejected.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlushReport {
    pub started: usize,
    pub log_chunks: usize,
    pub completed: usize,
    pub rejected: usize,
}

/// Write a batch of progress in one transaction: attempts started, log chunks, outcomes.
/// Logs are written in the same transaction as outcomes so that a finished task's log is
/// complete when it is seen; the chunks of an attempt whose outcome is in the batch go in
/// the outcome's own statement. The statements are pipelined (sent together, in this
/// order, then awaited): a flush costs `BEGIN`, one round trip and `COMMIT`, whatever it
/// holds. A flush with outcomes sends `pgdag_eval` with `notice` as its payload (see
/// `cluster::listener`).
pub async fn flush(
    client: &mut deadpool_postgres::Object,
    started: &[RunningMark],
    logs: &[LogChunk],
    alerts: &[TaskAlert],
    completions: &[Completion],
    now: Now,
    notice: &str,
) -> Result<FlushReport> {
    let tx = client.transaction().await?;
    let mut report = FlushReport::default();
    let started_ids: Vec<i64> = started.iter().map(|s| s.task_instance_id).collect();
    let started_tokens: Vec<Uuid> = started.iter().map(|s| s.claim_token).collect();
    let started_ran: Vec<i64> = started.iter().map(|s| s.ran_us).collect();
    let mark_running = async {
        if started.is_empty() {
            return Ok(0);
        }
        Ok::<_, super::StoreError>(
            tx.fetch(
                query!("queue/mark_running"),
                &[&started_ids, &started_tokens, &started_ran],
            )
            .await?
            .len(),
        )
    };
    // The chunks of attempts whose outcome is in this flush go with the outcome
    // (queue/complete.sql); the others (attempts still running) on their own.
    let ending: HashSet<(i64, Uuid)> = completions
        .iter()
        .map(|c| (c.task_instance_id, c.claim_token))
        .collect();
    let (with_outcome, logs): (Vec<&LogChunk>, Vec<&LogChunk>) = logs
        .iter()
        .partition(|c| ending.contains(&(c.task_instance_id, c.claim_token)));
    let log_ids: Vec<i64> = logs.iter().map(|c| c.task_instance_id).collect();
    let log_tokens: Vec<Uuid> = logs.iter().map(|c| c.claim_token).collect();
    let seqs: Vec<i32> = logs.iter().map(|c| c.seq).collect();
    let texts: Vec<&str> = logs.iter().map(|c| c.text.as_str()).collect();
    let ending_log_ids: Vec<i64> = with_outcome.iter().map(|c| c.task_instance_id).collect();
    let ending_seqs: Vec<i32> = with_outcome.iter().map(|c| c.seq).collect();
    let ending_texts: Vec<&str> = with_outcome.iter().map(|c| c.text.as_str()).collect();
    let append_logs = async {
        if logs.is_empty() {
            return Ok(0);
        }
        Ok::<_, super::StoreError>(
            tx.fetch(
                query!("queue/append_logs"),
                &[&log_ids, &log_tokens, &seqs, &texts],
            )
            .await?
            .len(),
        )
    };
    let tx_ref = &tx;
    let task_alerts = futures_util::future::join_all(alerts.iter().map(|alert| async move {
        tx_ref
            .exec(
                query!("queue/task_alert"),
                &[
                    &alert.task_instance_id,
                    &alert.claim_token,
                    &alert.kind,
                    &alert.message,
                ],
            )
            .await
    }));
    let ids: Vec<i64> = completions.iter().map(|c| c.task_instance_id).collect();
    let tokens: Vec<Uuid> = completions.iter().map(|c| c.claim_token).collect();
    let outcomes: Vec<&str> = completions.iter().map(|c| c.outcome).collect();
    let exit_codes: Vec<Option<i32>> = completions.iter().map(|c| c.exit_code).collect();
    let outs: Vec<&serde_json::Value> = completions.iter().map(|c| &c.out_params).collect();
    let errors: Vec<Option<&str>> = completions.iter().map(|c| c.error.as_deref()).collect();
    let results: Vec<Option<&serde_json::Value>> =
        completions.iter().map(|c| c.result.as_ref()).collect();
    let usage = |i: usize| -> Vec<Option<i64>> {
        completions.iter().map(|c| c.usage.map(|u| u[i])).collect()
    };
    let (cpu_user, cpu_system, max_rss) = (usage(0), usage(1), usage(2));
    let ran_us: Vec<Option<i64>> = completions.iter().map(|c| c.ran_us).collect();
    let complete = async {
        if completions.is_empty() {
            return Ok(HashSet::new());
        }
        let done = tx
            .fetch(
                query!("queue/complete"),
                &[
                    &ids,
                    &tokens,
                    &outcomes,
                    &exit_codes,
                    &outs,
                    &errors,
                    &results,
                    &now,
                    &cpu_user,
                    &cpu_system,
                    &max_rss,
                    &ran_us,
                    &ending_log_ids,
                    &ending_seqs,
                    &ending_texts,
                ],
            )
            .await?;
        Ok::<_, super::StoreError>(
            done.iter()
                .map(|r| r.get::<_, i64>(0))
                .collect::<HashSet<i64>>(),
        )
    };
    // A flush of output alone commits lazily (no wait for the WAL flush): nothing acts on
    // log lines, and the next durable commit of any connection (the attempt's outcome, at
    // the latest) flushes the WAL past them. Only a crash of Postgres in between can lose
    // them — lines, never state. A short attempt's outcome no longer waits behind its
    // first line's WAL flush.
    let lazily = async {
        if started.is_empty() && alerts.is_empty() && completions.is_empty() {
            super::instances::commit_lazily(&tx).await
        } else {
            Ok(())
        }
    };
    // Sent with the outcomes rather than after them: when every outcome was rejected the
    // evaluator only runs an empty round.
    let notify = async {
        if completions.is_empty() {
            return Ok(());
        }
        super::instances::notify(&tx, super::Channel::Eval, notice).await
    };
    let (lazy, marked, appended, alerted, completed, notified) = tokio::join!(
        lazily,
        mark_running,
        append_logs,
        task_alerts,
        complete,
        notify
    );
    lazy?;
    report.started = marked?;
    let completed = completed?;
    // A chunk that came with an outcome was written with it when the outcome held.
    let written_with_outcome = with_outcome
        .iter()
        .filter(|c| completed.contains(&c.task_instance_id))
        .count();
    let appended = appended?;
    report.log_chunks = appended + written_with_outcome;
    report.rejected += logs.len() + with_outcome.len() - report.log_chunks;
    for written in alerted {
        report.rejected += 1 - written? as usize;
    }
    report.completed = completed.len();
    report.rejected += completions.len() - report.completed;
    notified?;
    crate::metrics::add(&crate::metrics::COMPLETIONS, report.completed as u64);
    tx.commit().await?;
    crate::metrics::add(&crate::metrics::REJECTED, report.rejected as u64);
    Ok(report)
}

/// Attempts on this server whose kill was requested.
pub async fn kill_requests(client: &impl Conn, server_id: i64) -> Result<Vec<(i64, Uuid)>> {
    let rows = client
        .fetch(query!("queue/kill_requests"), &[&server_id])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Queued attempts per worker group.
pub async fn depth(client: &impl Conn) -> Result<Vec<(String, i64)>> {
    let rows = client.fetch(query!("queue/depth"), &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
