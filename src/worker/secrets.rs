//! Opens the secrets a task's payload references (`${secret.NAME@NONCE}`, marked by the
//! master: see `params::secrets`) just before it runs. A stored value is decrypted with this
//! worker's `PGDAG_SECRET_KEY`; a `value_env` one is read from this worker's environment,
//! only when `PGDAG_TASK_ENV_PASSTHROUGH` allows the variable. The values live in this
//! attempt's memory only: the filled payload is never written back, and the caller masks
//! them in everything the attempt ships.

use crate::params::secrets;
use crate::store::project_values;
use crate::store::queue::ClaimedTask;
use crate::tasks::Resources;

/// Fills the task's marked secret references: the values used, for masking. An `Err` says
/// why the task cannot run (a secret that does not exist or cannot be opened here).
pub async fn open(resources: &Resources, task: &mut ClaimedTask) -> Result<Vec<String>, String> {
    let Some(nonce) = task
        .payload
        .as_object_mut()
        .and_then(|p| p.remove("secret_nonce"))
        .and_then(|n| n.as_str().map(str::to_string))
    else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = Vec::new();
    let mut payload = task.payload.clone();
    secrets::for_each_string(&mut payload, &mut |text| {
        names.extend(secrets::marked_names(text, &nonce))
    });
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let project = task
        .payload
        .get("project")
        .and_then(|p| p.as_str())
        .unwrap_or_default()
        .to_string();
    let client = resources
        .store
        .client()
        .await
        .map_err(|e| format!("reading secrets: {e}"))?;
    let records = project_values::secrets_for_run(&client, &project, &names)
        .await
        .map_err(|e| format!("reading secrets: {e}"))?;
    drop(client);
    let server = &resources.config.server_name;
    let mut values = std::collections::BTreeMap::new();
    for name in &names {
        let Some(record) = records.iter().find(|r| &r.name == name) else {
            return Err(format!(
                "secret {name} does not exist in project {project} (define it with a kind: secret document)"
            ));
        };
        let value = if let Some(var) = &record.value_env {
            // Only what the operator passes to tasks: else a writer could read any variable
            // of the worker (PGDAG_SECRET_KEY...) through a secret.
            if !resources.config.task_env_passthrough.allows(var) {
                return Err(format!(
                    "secret {name}: value_env {var} is not in {} of worker {server}",
                    crate::tasks::env::PASSTHROUGH_VAR
                ));
            }
            std::env::var(var).map_err(|_| {
                format!("secret {name}: environment variable {var} (its value_env) is not set for worker {server}")
            })?
        } else {
            let stored = record.value_secret.as_deref().unwrap_or_default();
            let key = resources.secret_key.as_ref().ok_or_else(|| {
                format!(
                    "secret {name} is stored encrypted but {} is not set on worker {server}",
                    crate::secret::SECRET_KEY_VAR
                )
            })?;
            key.decrypt(stored)
                .map_err(|e| format!("secret {name}: {e}"))?
        };
        values.insert(name.clone(), value);
    }
    secrets::for_each_string(&mut task.payload, &mut |text| {
        if text.contains("${secret.") {
            *text = secrets::fill(text, &nonce, &values);
        }
    });
    Ok(values.into_values().collect())
}
