//! `pgdag alert test GROUP`: sends a test message to every channel of a group right from
//! this process (not through the outbox, so it works with no alert process running), prints
//! what each channel answered, and records the test in `pgdag.alert` as already delivered.
//! A `password_env` is read from this process's environment, a stored password opened with
//! its `PGDAG_SECRET_KEY`.

use super::{CliError, CliResult, connect};
use crate::alert::channel::{self, Ids, Outcome, Sender};
use crate::alert::message::{self, AlertView};
use crate::config::Config;
use crate::store::alerts::{self, TestDelivery};

pub async fn test(group: &str) -> CliResult {
    if let Some(problem) = crate::spec::name_problem(group) {
        return Err(CliError::usage(format!(
            "alert group name {group:?}: {problem}"
        )));
    }
    let config = Config::from_env()?;
    let key = crate::secret::SecretKey::from_env().map_err(CliError::usage)?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let record = alerts::get_group(&client, group)
        .await?
        .ok_or_else(|| CliError::usage(format!("alert group {group} does not exist")))?;
    let channels = channel::stored_channels(&record.channels).map_err(CliError::runtime)?;
    let payload = serde_json::json!({
        "message": format!(
            "This is a test message from `pgdag alert test {group}` on {}. If you read it, this channel works.",
            config.server_name
        ),
    });
    let rendered = message::render(
        &AlertView {
            id: 0,
            kind: "test",
            group,
            payload: &payload,
            workflow_instance_id: None,
            task_instance_id: None,
            created_at: chrono::Utc::now(),
        },
        &config.public_url,
    );
    let sender = Sender::new(
        key,
        crate::server::ServiceConfigs::from_config(&config)
            .map_err(CliError::usage)?
            .alert
            .send_timeout(),
        &config.http_allow,
    );
    let mut results = Vec::with_capacity(channels.len());
    let mut failed = 0;
    for (i, ch) in channels.iter().enumerate() {
        let secret = record.secrets.get(i).cloned().flatten();
        let outcome = sender
            .send(
                ch,
                secret.as_deref(),
                &rendered,
                Ids {
                    alert_id: 0,
                    delivery_id: None,
                },
            )
            .await;
        let (state, answer) = match outcome {
            Outcome::Sent(answer) => ("sent", answer),
            Outcome::Retry(answer) | Outcome::Fail(answer) => ("failed", answer),
        };
        match state {
            "sent" => println!(
                "channel {} ({}): sent ({answer})",
                i + 1,
                channel::target(ch)
            ),
            _ => {
                failed += 1;
                println!(
                    "channel {} ({}): failed: {answer}",
                    i + 1,
                    channel::target(ch)
                );
            }
        }
        results.push(TestDelivery {
            channel_index: i as i32,
            channel_type: channel::type_name(ch).to_string(),
            channel: record
                .channels
                .get(i)
                .cloned()
                .unwrap_or(serde_json::Value::Null),
            state,
            answer,
        });
    }
    if let Err(e) = alerts::record_test(&mut client, group, &payload, &results).await {
        eprintln!("warning: the test was not recorded in pgdag.alert: {e}");
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
