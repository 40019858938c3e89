//! `pgdag hook create|list|revoke`: webhooks that start a workflow (`POST /hooks/{token}`).
//! The CLI is trusted like `pgdag apply`: it acts on the database directly, as `cli:<user>`.

use super::{CliError, CliResult, connect};
use crate::config::Config;
use crate::store::{StoreError, hooks};

fn parse_target(target: &str) -> Result<(&str, &str), CliError> {
    match target.split_once('/') {
        Some((p, w)) if !p.is_empty() && !w.is_empty() && !w.contains('/') => Ok((p, w)),
        _ => Err(CliError::usage(format!(
            "{target:?} is not PROJECT/WORKFLOW"
        ))),
    }
}

/// Prints the hook's URL (under `PGDAG_PUBLIC_URL`): the token is shown this once.
pub async fn create(target: &str) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let (id, token) =
        match crate::api::rest::values::create(&tx, &super::actor(), project, workflow, None).await
        {
            Ok(created) => created,
            Err(StoreError::NotFound(m)) => return Err(CliError::usage(m)),
            Err(e) => return Err(e.into()),
        };
    tx.commit().await?;
    eprintln!("hook {id} of {project}/{workflow} (the URL is shown only now):");
    println!(
        "{}",
        crate::api::rest::values::hook_url(&config.public_url, &token)
    );
    Ok(0)
}

pub async fn list(target: Option<&str>, json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let (project, workflow) = match target {
        None => return Err(CliError::usage("name a PROJECT or PROJECT/WORKFLOW")),
        Some(t) if t.contains('/') => {
            let (p, w) = parse_target(t)?;
            (p, Some(w))
        }
        Some(p) => (p, None),
    };
    let list = hooks::list(&client, project, workflow).await?;
    if json {
        println!("{}", serde_json::json!({ "hooks": list }));
        return Ok(0);
    }
    for h in list {
        println!(
            "{:<6} {}/{:<24} created {} by {}{}",
            h.id,
            h.project,
            h.workflow,
            h.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
            h.created_by,
            h.revoked_at.map_or_else(String::new, |r| format!(
                " (revoked {})",
                r.format("%Y-%m-%dT%H:%M:%SZ")
            ))
        );
    }
    Ok(0)
}

pub async fn revoke(id: i64) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let hook = crate::api::rest::values::revoke(&tx, &super::actor(), id, None).await?;
    tx.commit().await?;
    match hook {
        Some(h) => {
            println!("hook {id} of {}/{}: revoked", h.project, h.workflow);
            Ok(0)
        }
        None => Err(CliError::usage(format!("hook {id} does not exist"))),
    }
}
