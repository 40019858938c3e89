//! Runs one attempt of any worker-side task type: announces it, hands it to its type's
//! plugin (`crate::tasks`), enforces the task's timeout (warn: an alert; fail: cancel the
//! run) and a kill request (cancel the run), and reports the outcome through the shipper —
//! unless the attempt was handed back, in which case whoever re-queues it owns the outcome.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use super::Stop;
use super::shipper::{HeldLog, Shipper};
use crate::model::TaskType;
use crate::spec::{TaskTimeout, TimeoutStrategy};
use crate::store::queue::{ClaimedTask, Completion};
use crate::tasks::mask::{Masker, MaskingSink};
use crate::tasks::{self, LogSink, Outcome, Resources, RunContext};

pub use crate::tasks::script::KILL_GRACE;

pub async fn run(resources: &Arc<Resources>, task: ClaimedTask, shipper: &Shipper, stop: &Stop) {
    let kill = &stop.kill;
    if stop.hand_back.load(Ordering::SeqCst) {
        return;
    }
    if kill.is_cancelled() {
        // Killed while it waited for a slot: it never ran.
        shipper.complete(Completion {
            task_instance_id: task.id,
            claim_token: task.claim_token,
            outcome: "killed",
            exit_code: None,
            out_params: serde_json::json!({}),
            error: Some("killed before it started".into()),
            result: None,
            usage: None,
            ran_us: None,
        });
        return;
    }
    // Most attempts (a statement, a request, a short script) end within a flush or two:
    // the `running` mark waits RUNNING_MARK_AFTER, and an attempt that ends sooner writes
    // none (its outcome sets `started_at` from how long it ran), one row update fewer.
    // Its log lines are held back as well, until the mark or the end: see `HeldLog`.
    let began = tokio::time::Instant::now();
    shipper.started(&task);
    let mut mark_at = Some(began + RUNNING_MARK_AFTER);
    let held = Arc::new(HeldLog::new(shipper.clone()));
    held.log(
        &task,
        format!(
            "[pgdag] attempt {} of task {} on {}\n",
            task.attempt, task.name, resources.config.server_name
        ),
    );
    // Secrets the task names are opened here, and masked in all it ships from now on.
    let mut task = task;
    let values = match super::secrets::open(resources, &mut task).await {
        Ok(values) => values,
        Err(message) => {
            held.log(&task, format!("[pgdag] failed: {message}\n"));
            held.release(&task);
            shipper.complete(Completion {
                task_instance_id: task.id,
                claim_token: task.claim_token,
                outcome: "failed",
                exit_code: None,
                out_params: serde_json::json!({}),
                error: Some(message),
                result: None,
                usage: None,
                ran_us: None,
            });
            return;
        }
    };
    let masker = Masker::new(values.iter().cloned());
    let masking = (!masker.is_empty()).then(|| {
        Arc::new(MaskingSink::new(
            held.clone() as Arc<dyn tasks::LogSink>,
            Masker::new(values),
        ))
    });
    let sink: Arc<dyn tasks::LogSink> = match &masking {
        Some(m) => m.clone() as Arc<dyn tasks::LogSink>,
        None => held.clone(),
    };
    let timeout: Option<TaskTimeout> = task
        .payload
        .get("timeout")
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    let cancel = CancellationToken::new();
    let ctx = RunContext::new(task.clone(), cancel.clone(), resources.clone(), sink);

    let started = std::time::Instant::now();
    let mut killed = false;
    let mut timed_out: Option<String> = None;
    let deadline = timeout
        .as_ref()
        .map(|t| tokio::time::Instant::now() + t.after.as_std());
    let result = match task.task_type.parse::<TaskType>() {
        Err(e) => Err(e.to_string()),
        Ok(ty) => {
            let mut running = tasks::plugin(ty).run(&ctx);
            loop {
                tokio::select! {
                    result = &mut running => break result,
                    _ = sleep_until_some(mark_at), if mark_at.is_some() => {
                        shipper.running(&task, began);
                        held.release(&task);
                        mark_at = None;
                    }
                    _ = kill.cancelled(), if !killed => {
                        killed = true;
                        ctx.log("[pgdag] kill requested\n");
                        cancel.cancel();
                    }
                    _ = sleep_until_some(deadline), if timed_out.is_none() && deadline.is_some() => {
                        let limit = timeout.as_ref().expect("a deadline comes from a timeout");
                        let message = format!("timed out: ran longer than {}", limit.after);
                        ctx.log(format!("[pgdag] {message} (strategy {})\n", limit.strategy));
                        if matches!(limit.strategy, TimeoutStrategy::Warn | TimeoutStrategy::WarnAndFail) {
                            shipper.alert(&task, "task_timeout", message.clone());
                        }
                        if matches!(limit.strategy, TimeoutStrategy::Fail | TimeoutStrategy::WarnAndFail) {
                            cancel.cancel();
                        }
                        timed_out = Some(message);
                    }
                }
            }
        }
    };
    let timeout_failed = timed_out.is_some()
        && timeout
            .as_ref()
            .is_some_and(|t| !matches!(t.strategy, TimeoutStrategy::Warn));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(message) => {
            ctx.log(format!("[pgdag] error: {message}\n"));
            Outcome::failure(message)
        }
    };
    let state = if killed {
        "killed"
    } else if timeout_failed {
        "failed"
    } else if outcome.succeeded {
        "succeeded"
    } else {
        "failed"
    };
    if !killed
        && !timeout_failed
        && !outcome.succeeded
        && let Some(error) = &outcome.error
        && outcome.exit_code.is_none()
    {
        ctx.log(format!("[pgdag] failed: {error}\n"));
    }
    ctx.log(format!("[pgdag] {state}\n"));
    if let Some(m) = &masking {
        m.flush(&task);
    }
    crate::metrics::TASK_RUN.since(&task.task_type, started);
    tracing::debug!(task = %task.name, attempt = task.attempt, state, "attempt finished");
    if stop.hand_back.load(Ordering::SeqCst) {
        // Given back (shutdown or fencing): whoever re-queues it owns the outcome now.
        ctx.log("[pgdag] attempt handed back, not reported\n");
        if let Some(m) = &masking {
            m.flush(&task);
        }
        held.release(&task);
        return;
    }
    held.release(&task);
    let error = if timeout_failed {
        timed_out
    } else if killed {
        None
    } else {
        outcome.error
    };
    shipper.complete(Completion {
        task_instance_id: task.id,
        claim_token: task.claim_token,
        // `failed_final`: failed whatever retries remain (queue/complete.sql).
        outcome: if state == "failed" && outcome.no_retry {
            "failed_final"
        } else {
            state
        },
        exit_code: outcome.exit_code,
        out_params: mask_json(
            &masker,
            serde_json::to_value(&outcome.out_params).unwrap_or_default(),
        ),
        error: if state == "succeeded" {
            None
        } else {
            error.map(|e| masker.mask_all(&e))
        },
        result: outcome.result.map(|r| mask_json(&masker, r)),
        usage: outcome
            .usage
            .map(|u| [u.cpu_user_ms, u.cpu_system_ms, u.max_rss_kib]),
        ran_us: Some(started.elapsed().as_micros().min(i64::MAX as u128) as i64),
    });
}

/// How long an attempt runs before it is marked `running`.
const RUNNING_MARK_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// `value` with every string masked (out params, a sql task's rows).
fn mask_json(masker: &Masker, mut value: serde_json::Value) -> serde_json::Value {
    if !masker.is_empty() {
        crate::params::secrets::for_each_string(&mut value, &mut |text| {
            *text = masker.mask_all(text)
        });
    }
    value
}

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
