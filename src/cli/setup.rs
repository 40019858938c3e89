//! Commands that set things up: migrate, standalone, server, apply, users and tokens.

use std::io::BufRead;
use std::path::PathBuf;

use super::{CliError, CliResult, connect};
use crate::config::{Config, parse_groups};
use crate::server::{self, Role};
use crate::store::{self, Store, audited, definitions, users};

/// The bundled example workflows, applied by `standalone`.
pub const EXAMPLES: &[(&str, &str)] = &[(
    "examples/hello_pipeline.yaml",
    include_str!("../../examples/hello_pipeline.yaml"),
)];

/// Migrations run on a session (`PGDAG_SESSION_DATABASE_URL` when set: their advisory lock
/// and refinery's prepared statements need one, which a transaction-mode PgBouncer is not).
async fn migrate_database(config: &Config) -> Result<Store, CliError> {
    let session_url = config
        .session_database_url
        .as_deref()
        .unwrap_or(&config.database_url);
    store::ensure_database(session_url).await?;
    let store = connect(config)?;
    store.migrate().await?;
    let mut client = store.client().await?;
    if users::count(&client).await? == 0 {
        let (password, generated) = match std::env::var("PGDAG_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (users::random_secret()[..20].to_string(), true),
        };
        audited::user_add(&mut client, &super::actor(), "admin", Some(&password), true).await?;
        if generated {
            crate::logging::say(format_args!(
                "created user admin with password {password} (shown once)"
            ));
        } else {
            crate::logging::say(format_args!(
                "created user admin with the password from PGDAG_ADMIN_PASSWORD"
            ));
        }
    }
    Ok(store)
}

pub async fn migrate() -> CliResult {
    let config = Config::from_env()?;
    migrate_database(&config).await?;
    crate::logging::say(format_args!("schema is up to date"));
    Ok(0)
}

pub async fn standalone() -> CliResult {
    let config = Config::from_env()?;
    let store = migrate_database(&config).await?;
    let mut specs = Vec::new();
    for (file, text) in EXAMPLES {
        let found = crate::apply::check_text(file, text).map_err(|errors| {
            CliError::runtime(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        specs.extend(found);
    }
    // The examples seed a new database only: once their project exists it is the user's,
    // and a restart must not put the original text back over their edits.
    let mut client = store.client().await?;
    let mut fresh = Vec::new();
    for spec in specs {
        if definitions::project_exists(&client, &spec.project).await? {
            crate::logging::say(format_args!(
                "example {}/{}: not applied (project {} exists)",
                spec.project, spec.name, spec.project
            ));
        } else {
            fresh.push(spec);
        }
    }
    for applied in
        definitions::apply_all(&mut client, crate::store::commands::SYSTEM_ACTOR, &fresh).await?
    {
        crate::logging::say(format_args!(
            "example {}/{}: version {}",
            applied.project, applied.workflow, applied.version
        ));
    }
    drop(client);
    serve(config, &Role::ALL).await
}

pub async fn server(roles: &str, worker_groups: Option<&str>) -> CliResult {
    let roles = server::parse_roles(roles).map_err(CliError::usage)?;
    let mut config = Config::from_env()?;
    if let Some(groups) = worker_groups {
        config.worker_groups = parse_groups(groups);
        if config.worker_groups.is_empty() {
            return Err(CliError::usage("--worker-groups names no group"));
        }
    }
    serve(config, &roles).await
}

async fn serve(config: Config, roles: &[Role]) -> CliResult {
    if config.poll_only {
        // The pool may be a transaction-mode PgBouncer (store::db::Prepared::Unnamed).
        crate::store::db::use_unnamed_statements();
    }
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let running = server::start(config.clone(), roles).await?;
    crate::logging::say(format_args!(
        "pgdag {} running as {} (server id {}, roles {})",
        env!("CARGO_PKG_VERSION"),
        config.server_name,
        running.server_id(),
        names.join(",")
    ));
    if let Some(addr) = running.api_addr {
        // stdout, so scripts can read where the API listens.
        println!("pgdag api listening on http://{addr}");
    }
    if let Some(addr) = running.metrics_addr {
        println!("pgdag metrics listening on http://{addr}");
    }
    server::shutdown_signal().await;
    crate::logging::say(format_args!(
        "shutting down: running tasks may finish for {} (PGDAG_SHUTDOWN_GRACE), then they are handed back; a second signal exits at once",
        config.shutdown_grace
    ));
    tokio::select! {
        _ = running.stop() => Ok(0),
        _ = server::shutdown_signal() => {
            // Whatever still runs is failed over once this server is declared dead, and
            // its processes are reaped by the next worker started on this host.
            crate::logging::say(format_args!("second signal: exiting without handing tasks back"));
            Ok(1)
        }
    }
}

pub async fn apply(files: &[PathBuf]) -> CliResult {
    let checked =
        crate::apply::load_paths(files).map_err(|errors| CliError::usage(errors.join("\n")))?;
    apply_checked(checked, false).await
}

/// Stores checked documents in one transaction and prints what each became. With
/// `keep_datasources`, datasources that already exist are left as they are (an import
/// must not overwrite a datasource the user completed since).
pub(super) async fn apply_checked(
    mut checked: crate::apply::Checked,
    keep_datasources: bool,
) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    if keep_datasources {
        let mut kept = Vec::new();
        for d in std::mem::take(&mut checked.datasources) {
            let existing = crate::store::datasources::list(&client, &d.project).await?;
            if existing.iter().any(|e| e.name == d.name) {
                println!("datasource {}/{}: exists, left as it is", d.project, d.name);
            } else {
                kept.push(d);
            }
        }
        checked.datasources = kept;
    }
    let own: Vec<tokio_postgres::Config> = std::iter::once(config.database_url.as_str())
        .chain(config.session_database_url.as_deref())
        .filter_map(|url| url.parse().ok())
        .collect();
    let problems = crate::apply::scheduler_database_problems(&checked.datasources, &own).await;
    if !problems.is_empty() {
        return Err(CliError::usage(problems.join("\n")));
    }
    let key = crate::secret::SecretKey::from_env().map_err(CliError::usage)?;
    let datasources = checked
        .sealed_datasources(key.as_ref())
        .map_err(CliError::usage)?;
    let alert_groups = checked
        .sealed_alert_groups(key.as_ref())
        .map_err(CliError::usage)?;
    let secrets = checked
        .sealed_secrets(key.as_ref())
        .map_err(CliError::usage)?;
    // Alert groups the workflows name must exist (here or in the database): say where.
    let referenced = checked.referenced_groups();
    if !referenced.is_empty() {
        let stored: Vec<String> = crate::store::alerts::get_groups(&client, &referenced)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let missing = checked.missing_alert_groups(&stored);
        if !missing.is_empty() {
            return Err(CliError::usage(missing.join("\n")));
        }
    }
    // Tenants the workflows name must exist and allow their project: say where.
    if !checked.tenant_refs.is_empty() {
        let stored = crate::store::tenants::list(&client).await?;
        let problems = checked.tenant_problems(&stored);
        if !problems.is_empty() {
            return Err(CliError::usage(problems.join("\n")));
        }
    }
    let applied = definitions::apply_documents(
        &mut client,
        &super::actor(),
        &checked.workflows,
        &checked.task_groups,
        &datasources,
        &alert_groups,
        &checked.tenants,
        &checked.schedules,
        &crate::store::project_values::ProjectValues {
            variables: &checked.variables,
            secrets: &secrets,
        },
    )
    .await?;
    for v in &checked.variables {
        println!(
            "variables of project {}: {} applied",
            v.project,
            v.values.len()
        );
    }
    for s in &checked.secrets {
        println!("secret {}/{}: applied", s.project, s.name);
    }
    for t in &checked.tenants {
        println!(
            "tenant {}: os user {}, projects [{}]",
            t.name,
            t.os_user,
            t.projects.join(", ")
        );
    }
    for d in &checked.datasources {
        println!("datasource {}/{}: applied", d.project, d.name);
    }
    for g in &checked.alert_groups {
        println!(
            "alert group {}: applied ({} channel{})",
            g.name,
            g.channels.len(),
            if g.channels.len() == 1 { "" } else { "s" }
        );
    }
    for group in &checked.task_groups {
        println!("task group {}: size {}", group.name, group.size);
    }
    for s in &checked.schedules {
        println!(
            "schedule {:?} of {}/{}: applied ({})",
            s.schedule.cron,
            s.project,
            s.workflow,
            if s.schedule.enabled { "on" } else { "off" }
        );
    }
    for applied in applied {
        let what = match applied.outcome {
            definitions::ApplyOutcome::Created => "created",
            definitions::ApplyOutcome::Updated => "updated",
            definitions::ApplyOutcome::Unchanged => "unchanged",
        };
        println!(
            "{}/{}: {what} (version {})",
            applied.project, applied.workflow, applied.version
        );
    }
    Ok(0)
}

/// The first line of standard input, which must not be empty.
fn password_from_stdin() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(CliError::usage("the password on standard input is empty"));
    }
    Ok(password)
}

pub async fn user_add(name: &str, admin: bool, password_stdin: bool) -> CliResult {
    let password = if password_stdin {
        Some(password_from_stdin()?)
    } else {
        None
    };
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    audited::user_add(
        &mut client,
        &super::actor(),
        name,
        password.as_deref(),
        admin,
    )
    .await?;
    eprintln!("user {name} added{}", if admin { " (admin)" } else { "" });
    Ok(0)
}

pub async fn user_passwd(name: &str, keep_tokens: bool) -> CliResult {
    let password = password_from_stdin()?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    match audited::user_passwd(&mut client, &super::actor(), name, &password, keep_tokens).await? {
        None => Err(CliError::usage(format!("user {name} does not exist"))),
        Some(revoked) => {
            eprintln!(
                "password of {name} set; their web sessions ended{}",
                if keep_tokens {
                    String::new()
                } else {
                    format!(" and {revoked} API token(s) were revoked")
                }
            );
            Ok(0)
        }
    }
}

pub async fn user_list(json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let list = users::list(&client).await?;
    if json {
        println!("{}", serde_json::json!({ "users": list }));
        return Ok(0);
    }
    for u in list {
        println!(
            "{:<24} {:<6} password:{:<4} tokens:{}",
            u.name,
            if u.is_admin { "admin" } else { "user" },
            if u.has_password { "set" } else { "none" },
            u.tokens
        );
    }
    Ok(0)
}

pub async fn token_create(user: &str, name: Option<&str>, expires_in: Option<&str>) -> CliResult {
    let expires_in = match expires_in {
        None => None,
        Some(text) => {
            let d: crate::model::Duration = text
                .parse()
                .map_err(|e| CliError::usage(format!("--expires-in: {e}")))?;
            if d.millis == 0 {
                return Err(CliError::usage("--expires-in must be more than 0"));
            }
            Some(d.as_std())
        }
    };
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let new = audited::token_create(&mut client, &super::actor(), user, name, expires_in).await?;
    println!("{}", new.token);
    Ok(0)
}

pub async fn token_list(user: Option<&str>, json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let list = users::list_tokens(&client, user).await?;
    if json {
        println!("{}", serde_json::json!({ "tokens": list }));
        return Ok(0);
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    for t in list {
        println!(
            "{:<6} {:<16} {:<16} created {} last used {} expires {}{}",
            t.id,
            t.name.as_deref().unwrap_or("-"),
            t.user,
            time(Some(t.created_at)),
            time(t.last_used_at),
            t.expires_at
                .map_or_else(|| "never".into(), |e| time(Some(e))),
            if t.expired { " (expired)" } else { "" }
        );
    }
    Ok(0)
}

pub async fn token_revoke(id: i64) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    match audited::token_revoke(&mut client, &super::actor(), id).await? {
        None => Err(CliError::usage(format!("token {id} does not exist"))),
        Some((user, _)) => {
            eprintln!("token {id} of {user} revoked");
            Ok(0)
        }
    }
}

pub async fn client_grant(role: &str, project: &str) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    crate::store::clients::grant(&client, role, project, &super::actor()).await?;
    eprintln!("role {role} is a client of project {project}");
    Ok(0)
}

pub async fn client_revoke(role: &str, project: &str) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    if crate::store::clients::revoke(&client, role, project, &super::actor()).await? {
        eprintln!("role {role} is no longer a client of project {project}");
        Ok(0)
    } else {
        Err(CliError::usage(format!(
            "role {role} is not a client of project {project}"
        )))
    }
}
