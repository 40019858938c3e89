//! The alert role: sends what the `pgdag.alert` outbox holds, by email and webhook.
//!
//! Owns nothing but the deliveries it holds a claim token for. Every alert row is written
//! by someone else, in the transaction of the event that caused it (an instance ending, a
//! timeout, a failover, a sql task's result, a dependent task giving up), so an alert is
//! never lost and never sent for an event that rolled back. This service:
//!
//! 1. **routes** each new alert once, under `FOR UPDATE SKIP LOCKED`: finds its alert
//!    groups and writes one `alert_delivery` row per channel (or marks the alert `skipped`
//!    when no group applies, `failed` when the groups it names do not exist);
//! 2. **claims** due deliveries in one statement (`SKIP LOCKED`, a fresh claim token, one
//!    more attempt, a lease of `PGDAG_ALERT_LEASE`), sends them concurrently and records
//!    each answer with a write that is conditional on the claim token; a failed attempt is
//!    retried with exponential backoff until `PGDAG_ALERT_MAX_ATTEMPTS`.
//!
//! It never touches instances, tasks or definitions. Woken by `pgdag_alert` (a statement
//! trigger on `pgdag.alert`), by its own next due time and by the jittered fallback poll.
//!
//! How it fails: a database error ends the round and the next one starts after a backoff;
//! a claim it made stays leased and is claimed again once the lease is over, by this or any
//! other alert process — so killing the process between a claim and its send loses
//! nothing. A send is abandoned after half the lease, so two live processes never hold the
//! same delivery and never both send it; a process that dies *during* an SMTP conversation
//! (after the server took the mail, before the answer was recorded) causes that mail to be
//! sent again: delivery is at least once per channel, exactly once unless such a crash
//! happens. While the process is fenced (no heartbeat) it claims nothing.

pub mod channel;
pub mod message;

use std::time::Duration;

use futures_util::future::join_all;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Membership, Wakeups};
use crate::secret::SecretKey;
use crate::service::{self, Loop, Next, Round, Rounds, backoff};
use crate::store::alerts::{self, ClaimedDelivery, DeliveryResult, NewDelivery, Routed, Unrouted};
use crate::store::{Result, Store};
use channel::{Ids, Outcome, Sender};

/// The longest wait between two attempts of one delivery.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

/// The alert sender's settings.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Fallback poll for a lost `pgdag_alert`.
    pub poll_interval: Duration,
    /// Attempts of one delivery before it fails.
    pub max_attempts: u32,
    /// Wait after a failed attempt: `retry_base`, doubling, at most [`MAX_RETRY_DELAY`].
    pub retry_base: Duration,
    /// How long a claimed delivery is this process's.
    pub lease: Duration,
    /// The group of failover alerts and of alerts no other group applies to.
    pub default_group: Option<String>,
    /// Base of the links in messages.
    pub public_url: String,
    /// Deliveries claimed (and sent concurrently) at once.
    pub claim_batch: i64,
    /// Alerts routed per transaction.
    pub route_batch: i64,
    pub clock: crate::clock::Clock,
    /// Private targets webhooks may reach (`PGDAG_HTTP_ALLOW`).
    pub http_allow: crate::tasks::net::HttpAllow,
}

impl AlertConfig {
    pub const DEFAULT_CLAIM_BATCH: i64 = 16;
    pub const DEFAULT_ROUTE_BATCH: i64 = 64;

    /// A send is given up after half the lease, so that its claim is still this process's
    /// when the answer is recorded.
    pub fn send_timeout(&self) -> Duration {
        self.lease / 2
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.poll_interval.is_zero() || self.claim_batch < 1 || self.route_batch < 1 {
            return Err(format!(
                "alert sender: poll and batches must be above zero ({self:?})"
            ));
        }
        if self.max_attempts == 0 || self.lease < Duration::from_secs(1) {
            return Err("alert sender: at least one attempt and a lease of 1 s".into());
        }
        Ok(())
    }
}

/// Start the alert sender; it stops when `cancel` fires (a batch being sent is finished
/// first, which takes at most half the lease).
#[allow(clippy::too_many_arguments)]
pub fn start(
    set: &mut JoinSet<()>,
    store: Store,
    config: AlertConfig,
    membership: Membership,
    wakeups: Wakeups,
    secret_key: Option<SecretKey>,
    rounds: &Rounds,
    cancel: CancellationToken,
) {
    let sender = Sender::new(secret_key, config.send_timeout(), &config.http_allow);
    let lp = Loop::new(crate::service::rounds::ALERT, cancel.clone())
        .poll(config.poll_interval)
        .woken_by(&wakeups.alert)
        .counted(rounds);
    set.spawn(service::run(
        AlertService {
            store,
            config,
            membership,
            sender,
            cancel,
        },
        lp,
    ));
}

struct AlertService {
    store: Store,
    config: AlertConfig,
    membership: Membership,
    sender: Sender,
    cancel: CancellationToken,
}

impl Round for AlertService {
    async fn round(&mut self) -> Result<Next> {
        Ok(match self.send_due().await? {
            Some(due) => Next::In(due),
            None => Next::Idle,
        })
    }
}

impl AlertService {
    /// Route what is new, send what is due; returns how long until the next delivery is due.
    async fn send_due(&self) -> Result<Option<Duration>> {
        if !self.membership.is_healthy() {
            return Ok(None);
        }
        let mut client = self.store.client().await?;
        // Idle: one query per poll.
        match alerts::next_due_ms(&client, self.config.clock.now()).await? {
            None => return Ok(None),
            Some(ms) if ms > 0.0 => return Ok(Some(Duration::from_millis(ms as u64))),
            Some(_) => {}
        }
        while route_batch(
            &mut client,
            self.config.route_batch,
            self.config.default_group.as_deref(),
        )
        .await?
            == self.config.route_batch as usize
        {}
        let max_attempts = self.config.max_attempts as i32;
        let given_up = alerts::give_up(&mut client, max_attempts, self.config.clock.now()).await?;
        if given_up > 0 {
            crate::metrics::add(&crate::metrics::ALERTS_FAILED, given_up as u64);
            tracing::warn!(
                deliveries = given_up,
                "alert deliveries failed: their last attempt got no answer and no attempts are left"
            );
        }
        while !self.cancel.is_cancelled() && self.membership.is_healthy() {
            let claimed = alerts::claim_deliveries(
                &client,
                self.config.claim_batch,
                max_attempts,
                self.membership.server_id(),
                self.config.lease.as_millis() as i64,
                self.config.clock.now(),
            )
            .await?;
            let n = claimed.len();
            if n == 0 {
                break;
            }
            let results = join_all(claimed.iter().map(|d| self.deliver(d))).await;
            for result in &results {
                self.record(&mut client, result).await?;
            }
            if n < self.config.claim_batch as usize {
                break;
            }
        }
        let next = alerts::next_due_ms(&client, self.config.clock.now()).await?;
        Ok(next.map(|ms| Duration::from_millis(ms.max(0.0) as u64)))
    }

    async fn deliver(&self, d: &ClaimedDelivery) -> DeliveryResult {
        let view = message::AlertView {
            id: d.alert_id,
            kind: &d.kind,
            group: &d.group,
            payload: &d.payload,
            workflow_instance_id: d.workflow_instance_id,
            task_instance_id: d.task_instance_id,
            created_at: d.created_at,
        };
        let rendered = message::render(&view, &self.config.public_url);
        let outcome = match channel::parse_channel(&d.channel) {
            Ok(ch) => {
                self.sender
                    .send(
                        &ch,
                        d.secret.as_deref(),
                        &rendered,
                        Ids {
                            alert_id: d.alert_id,
                            delivery_id: Some(d.id),
                        },
                    )
                    .await
            }
            Err(e) => Outcome::Fail(e),
        };
        let (state, answer, retry_in) = decide(
            outcome,
            d.attempt,
            self.config.max_attempts,
            self.config.retry_base,
        );
        match state {
            "sent" => {
                crate::metrics::add(&crate::metrics::ALERTS_SENT, 1);
                let waited = chrono::Utc::now() - d.created_at;
                crate::metrics::ALERT_DELIVERY
                    .observe("", waited.num_milliseconds() as f64 / 1000.0);
                tracing::info!(alert = d.alert_id, delivery = d.id, group = %d.group, channel = d.channel_index, attempt = d.attempt, "alert sent");
            }
            "pending" => {
                crate::metrics::add(&crate::metrics::ALERTS_RETRIED, 1);
                tracing::warn!(alert = d.alert_id, delivery = d.id, attempt = d.attempt, %answer, "alert not sent; retrying in {} ms", retry_in.as_millis());
            }
            _ => {
                crate::metrics::add(&crate::metrics::ALERTS_FAILED, 1);
                tracing::warn!(alert = d.alert_id, delivery = d.id, attempt = d.attempt, %answer, "alert delivery failed");
            }
        }
        DeliveryResult {
            delivery_id: d.id,
            claim_token: d.claim_token,
            state,
            answer,
            retry_in_ms: retry_in.as_millis() as i64,
        }
    }

    /// Record an answer, retrying a failed write while the claim is surely still ours (the
    /// mail went out: losing its answer would send it again after the lease).
    async fn record(
        &self,
        client: &mut deadpool_postgres::Object,
        result: &DeliveryResult,
    ) -> Result<()> {
        let mut failures = 0u32;
        let deadline = tokio::time::Instant::now() + self.config.send_timeout();
        loop {
            match alerts::record_result(client, result, self.config.clock.now()).await {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::warn!(
                        delivery = result.delivery_id,
                        "the answer of a delivery whose claim expired was not recorded (another claim holds it)"
                    );
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() < deadline => {
                    failures += 1;
                    tracing::warn!(error = %e, delivery = result.delivery_id, "recording an alert answer failed; retrying");
                    tokio::time::sleep(backoff(failures)).await;
                    if let Ok(fresh) = self.store.client().await {
                        *client = fresh;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The next state of a delivery after an attempt: `sent`, `pending` (retry after the
/// returned delay) or `failed`; with the answer to record.
pub fn decide(
    outcome: Outcome,
    attempt: i32,
    max_attempts: u32,
    retry_base: Duration,
) -> (&'static str, String, Duration) {
    match outcome {
        Outcome::Sent(answer) => ("sent", answer, Duration::ZERO),
        Outcome::Fail(answer) => ("failed", answer, Duration::ZERO),
        Outcome::Retry(answer) if attempt.max(0) as u32 >= max_attempts => (
            "failed",
            format!("{answer} (gave up after {attempt} attempts)"),
            Duration::ZERO,
        ),
        Outcome::Retry(answer) => ("pending", answer, retry_delay(retry_base, attempt)),
    }
}

/// `base`, `2 × base`, `4 × base`, ... after attempts 1, 2, 3, ..., at most
/// [`MAX_RETRY_DELAY`].
pub fn retry_delay(base: Duration, attempt: i32) -> Duration {
    let exponent = (attempt.max(1) - 1).min(20) as u32;
    base.saturating_mul(1u32 << exponent).min(MAX_RETRY_DELAY)
}

/// The groups an alert goes to: the group its event named; else the notify groups of the
/// workflows it is about. Failover alerts also go to the default group
/// (`PGDAG_ALERT_DEFAULT_GROUP`), and so does any alert that has no group otherwise.
pub fn groups_for(alert: &Unrouted, default_group: Option<&str>) -> Vec<String> {
    let mut groups: Vec<String> = match &alert.group {
        Some(g) => vec![g.clone()],
        None => alert.workflow_groups.clone(),
    };
    if let Some(default) = default_group
        && (alert.kind == "failover" || groups.is_empty())
    {
        groups.push(default.to_string());
    }
    let mut seen = std::collections::HashSet::new();
    groups.retain(|g| seen.insert(g.clone()));
    groups
}

/// Route one batch of new alerts in one transaction; returns how many.
async fn route_batch(
    client: &mut deadpool_postgres::Object,
    batch: i64,
    default_group: Option<&str>,
) -> Result<usize> {
    let tx = client.transaction().await?;
    let unrouted = alerts::claim_unrouted(&tx, batch).await?;
    if unrouted.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let wanted: Vec<Vec<String>> = unrouted
        .iter()
        .map(|a| groups_for(a, default_group))
        .collect();
    let mut names: Vec<String> = wanted.iter().flatten().cloned().collect();
    names.sort();
    names.dedup();
    let records = alerts::get_groups(&tx, &names).await?;
    let (deliveries, routed) = plan_routes(&unrouted, &wanted, &records);
    alerts::record_routes(&tx, &deliveries, &routed).await?;
    tx.commit().await?;
    for r in &routed {
        if let Some(error) = &r.error {
            tracing::warn!(alert = r.alert_id, %error, "alert cannot be sent to every group");
        }
    }
    Ok(unrouted.len())
}

/// Deliveries for each alert (one per channel of each of its groups that exists) and its
/// state after routing.
fn plan_routes(
    unrouted: &[Unrouted],
    wanted: &[Vec<String>],
    records: &[alerts::GroupRecord],
) -> (Vec<NewDelivery>, Vec<Routed>) {
    let mut deliveries = Vec::new();
    let mut routed = Vec::new();
    for (alert, groups) in unrouted.iter().zip(wanted) {
        let mut problems = Vec::new();
        let before = deliveries.len();
        for name in groups {
            let Some(record) = records.iter().find(|r| &r.name == name) else {
                problems.push(format!("alert group {name} does not exist"));
                continue;
            };
            let items = record.channels.as_array().cloned().unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                match channel::parse_channel(item) {
                    Ok(ch) => deliveries.push(NewDelivery {
                        alert_id: alert.id,
                        group: name.clone(),
                        channel_index: i as i32,
                        channel_type: channel::type_name(&ch).to_string(),
                        channel: item.clone(),
                        secret: record.secrets.get(i).cloned().flatten(),
                    }),
                    Err(e) => problems.push(format!("alert group {name}, channel {i}: {e}")),
                }
            }
        }
        let made = deliveries.len() > before;
        routed.push(Routed {
            alert_id: alert.id,
            state: if made {
                "pending"
            } else if problems.is_empty() {
                "skipped"
            } else {
                "failed"
            },
            error: (!problems.is_empty()).then(|| problems.join("; ")),
        });
    }
    (deliveries, routed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unrouted(kind: &str, group: Option<&str>, workflow_groups: &[&str]) -> Unrouted {
        Unrouted {
            id: 1,
            kind: kind.into(),
            group: group.map(String::from),
            workflow_groups: workflow_groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn groups_come_from_the_event_then_the_workflows_then_the_default() {
        let named = unrouted("workflow_end", Some("oncall"), &["other"]);
        assert_eq!(groups_for(&named, Some("ops")), ["oncall"]);
        let timeout = unrouted("task_timeout", None, &["team"]);
        assert_eq!(groups_for(&timeout, Some("ops")), ["team"]);
        let lonely = unrouted("task_timeout", None, &[]);
        assert_eq!(groups_for(&lonely, Some("ops")), ["ops"]);
        assert!(groups_for(&lonely, None).is_empty());
        let failover = unrouted("failover", None, &["a", "ops"]);
        assert_eq!(groups_for(&failover, Some("ops")), ["a", "ops"]);
        assert_eq!(groups_for(&failover, None), ["a", "ops"]);
    }

    #[test]
    fn retries_back_off_and_stop_at_the_limit() {
        let base = Duration::from_secs(2);
        assert_eq!(retry_delay(base, 1), Duration::from_secs(2));
        assert_eq!(retry_delay(base, 2), Duration::from_secs(4));
        assert_eq!(retry_delay(base, 4), Duration::from_secs(16));
        assert_eq!(retry_delay(base, 40), MAX_RETRY_DELAY);
        assert_eq!(
            decide(Outcome::Retry("451 busy".into()), 2, 5, base),
            ("pending", "451 busy".to_string(), Duration::from_secs(4))
        );
        let (state, answer, _) = decide(Outcome::Retry("451 busy".into()), 5, 5, base);
        assert_eq!(state, "failed");
        assert!(answer.contains("gave up after 5 attempts"));
        assert_eq!(
            decide(Outcome::Fail("550 no".into()), 1, 5, base).0,
            "failed"
        );
        assert_eq!(decide(Outcome::Sent("250 ok".into()), 3, 5, base).0, "sent");
    }

    #[test]
    fn routing_makes_one_delivery_per_channel_and_names_missing_groups() {
        let record = alerts::GroupRecord {
            name: "oncall".into(),
            channels: serde_json::json!([
                {"type": "webhook", "url": "http://h/a"},
                {"type": "email", "to": ["a@x.org"], "smtp": {"host": "h", "port": 25, "from": "p@x.org"}}
            ]),
            secrets: vec![None, Some(vec![1, 2, 3])],
            updated_at: chrono::Utc::now(),
        };
        let alerts = vec![
            Unrouted {
                id: 1,
                ..unrouted("workflow_end", Some("oncall"), &[])
            },
            Unrouted {
                id: 2,
                ..unrouted("workflow_end", Some("gone"), &[])
            },
            Unrouted {
                id: 3,
                ..unrouted("task_timeout", None, &[])
            },
        ];
        let wanted: Vec<Vec<String>> = alerts.iter().map(|a| groups_for(a, None)).collect();
        let (deliveries, routed) = plan_routes(&alerts, &wanted, &[record]);
        assert_eq!(deliveries.len(), 2);
        assert_eq!(deliveries[0].channel_type, "webhook");
        assert_eq!(deliveries[1].channel_type, "email");
        assert_eq!(deliveries[1].secret.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(
            (routed[0].state, routed[0].error.as_deref()),
            ("pending", None)
        );
        assert_eq!(
            (routed[1].state, routed[1].error.as_deref()),
            ("failed", Some("alert group gone does not exist"))
        );
        assert_eq!(
            (routed[2].state, routed[2].error.as_deref()),
            ("skipped", None)
        );
    }
}
