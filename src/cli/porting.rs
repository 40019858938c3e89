//! Moving definitions between databases: `pgdag export` writes a project as the documents
//! `apply` accepts, and `pgdag apply --dry-run` says what applying files would change.
//!
//! An export holds, in this order: the tenants (those the workflows name and the project's
//! default), the task groups and alert groups the workflows name, the project's datasources
//! (with `--workflow`, those the workflow uses), its workflows and the schedules added to them through
//! the API (`kind: schedule`), each with its on/off state (a workflow's `release`, a
//! schedule's `enabled` as switched by `pgdag schedule on|off`). Secrets are never written: a stored password, a webhook URL's path (where
//! incoming-webhook services keep their token) and webhook header values are left out, and
//! a `#` comment above the document says what to put back. Applying an export to an empty
//! database and exporting again gives the same text, byte for byte, for every document
//! that held no secret.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{CliError, CliResult, connect};
use crate::config::Config;
use crate::spec::{
    AlertChannel, AlertGroupSpec, DatasourceSpec, Document, ScheduleDocSpec, ScheduleSpec,
    TaskGroupSpec, TaskKind, TenantSpec, WorkflowSpec,
};
use crate::store::{alerts, datasources, definitions, schedules, task_groups, tenants};

/// One document of an export, with the comment lines that go above it.
struct Exported {
    notes: Vec<String>,
    document: Document,
}

fn render(docs: &[Exported]) -> String {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        for note in &doc.notes {
            out.push_str(&format!("# {note}\n"));
        }
        out.push_str(&crate::spec::document_to_yaml(&doc.document));
    }
    out
}

/// `scheme://host[:port]` of a URL (any user:password@ dropped), and whether anything
/// after it (a path other than `/`, a query, a fragment, user info) was cut.
fn origin(url: &str) -> (String, bool) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_string(), false);
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let tail = &rest[authority_end..];
    let cut = host != authority || !(tail.is_empty() || tail == "/");
    (format!("{}://{host}", &url[..scheme_end]), cut)
}

/// The variable an export names for a stored SMTP password: `<GROUP>_SMTP_PASSWORD`
/// (`_<N>` after it for a channel other than the first).
fn password_var(group: &str, channel: usize) -> String {
    let mut var: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if var.starts_with(|c: char| c.is_ascii_digit()) {
        var.insert(0, '_');
    }
    var.push_str("_SMTP_PASSWORD");
    if channel > 1 {
        var.push_str(&format!("_{channel}"));
    }
    var
}

/// A stored alert group as a document without its secrets, and what was left out.
fn alert_group_document(record: &alerts::GroupRecord) -> Result<Exported, CliError> {
    let mut channels =
        crate::alert::channel::stored_channels(&record.channels).map_err(CliError::runtime)?;
    let mut notes = Vec::new();
    for (i, channel) in channels.iter_mut().enumerate() {
        let n = i + 1;
        match channel {
            AlertChannel::Email(email) => {
                if record.secrets.get(i).is_some_and(Option::is_some) {
                    // `smtp.user` needs a password source to apply: name a variable.
                    let var = password_var(&record.name, n);
                    notes.push(format!(
                        "channel {n} (email): its SMTP password is stored encrypted and left out; set {var} for the alert processes (or write `password:` instead of `password_env:`)"
                    ));
                    email.smtp.password_env = Some(var);
                }
            }
            AlertChannel::Webhook(hook) => {
                let (short, cut) = origin(&hook.url);
                if cut {
                    notes.push(format!(
                        "channel {n} (webhook): its URL may hold a token and is cut to {short}; put the full URL back before applying"
                    ));
                    hook.url = short;
                }
                if !hook.headers.is_empty() {
                    let names: Vec<&str> = hook.headers.keys().map(String::as_str).collect();
                    notes.push(format!(
                        "channel {n} (webhook): header values may be secrets and are left out ({}); add `headers:` back before applying",
                        names.join(", ")
                    ));
                    hook.headers.clear();
                }
            }
        }
    }
    if !notes.is_empty() {
        notes.insert(0, format!("alert group {}: secrets left out", record.name));
    }
    Ok(Exported {
        notes,
        document: Document::AlertGroup(AlertGroupSpec {
            name: record.name.clone(),
            channels,
            source: Default::default(),
        }),
    })
}

fn datasource_document(
    project: &str,
    d: &datasources::DatasourceSummary,
) -> Result<Exported, CliError> {
    let mut notes = Vec::new();
    if d.has_stored_password {
        notes.push(format!(
            "datasource {project}/{}: its password is stored encrypted and left out; add `password_env:` (or `password:`) before applying",
            d.name
        ));
    }
    Ok(Exported {
        notes,
        document: Document::Datasource(DatasourceSpec {
            project: project.to_string(),
            name: d.name.clone(),
            db_type: d
                .db_type
                .parse()
                .map_err(|e: crate::model::ParseEnumError| CliError::runtime(e.to_string()))?,
            url: d.url.clone(),
            password_env: d.password_env.clone(),
            password: None,
            allow_scheduler_database: false,
            source: Default::default(),
        }),
    })
}

/// A stored schedule as a `kind: schedule` document; its window as RFC 3339 times in its
/// own zone, which read back to the same instants.
fn schedule_document(s: &schedules::ScheduleRow) -> ScheduleDocSpec {
    let tz: chrono_tz::Tz = s.timezone.parse().unwrap_or(chrono_tz::UTC);
    let bound =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.with_timezone(&tz).to_rfc3339());
    ScheduleDocSpec {
        project: s.project.clone(),
        workflow: s.workflow.clone(),
        schedule: ScheduleSpec {
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            start: bound(s.start),
            end: bound(s.end),
            // Stored values were checked when written; an unknown one reads as the default.
            misfire: s.misfire.parse().unwrap_or_default(),
            enabled: s.enabled,
        },
        source: Default::default(),
    }
}

fn tenant_document(t: tenants::Tenant) -> Exported {
    Exported {
        notes: Vec::new(),
        document: Document::Tenant(TenantSpec {
            name: t.name,
            os_user: t.os_user,
            projects: t.projects,
            default_for: t.default_for,
            source: Default::default(),
        }),
    }
}

/// `pgdag export --project P [--workflow W]`.
pub async fn export(project: &str, workflow: Option<&str>) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    if !definitions::project_exists(&client, project).await? {
        return Err(CliError::usage(format!("project {project} does not exist")));
    }
    let names: Vec<String> = match workflow {
        Some(w) => vec![w.to_string()],
        None => definitions::list_workflows(&client, project)
            .await?
            .into_iter()
            .map(|w| w.name)
            .collect(),
    };
    let stored_schedules = schedules::list(&client, Some(project), None).await?;
    let mut specs: Vec<WorkflowSpec> = Vec::new();
    for name in names {
        let (mut spec, _) = definitions::get_spec(&client, project, &name, None)
            .await?
            .ok_or_else(|| CliError::usage(format!("workflow {project}/{name} does not exist")))?;
        // The YAML schedule as switched now (`pgdag schedule on|off` changes the row, not
        // the stored version).
        if let Some(schedule) = spec.schedule.as_mut()
            && let Some(row) = stored_schedules
                .iter()
                .find(|s| s.workflow == name && s.source == "yaml")
        {
            schedule.enabled = row.enabled;
        }
        specs.push(spec);
    }
    let mut docs: Vec<Exported> = Vec::new();
    // The tenants the workflows name, and the project's default tenant (`default_for`),
    // which the workflows that name none run as.
    let mut tenant_names: BTreeSet<String> =
        specs.iter().filter_map(|s| s.tenant.clone()).collect();
    if let Some(t) = tenants::default_of(&client, project).await? {
        tenant_names.insert(t.name);
    }
    for name in &tenant_names {
        if let Some(t) = tenants::get(&client, name).await? {
            docs.push(tenant_document(t));
        }
    }
    let group_names: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| s.tasks.iter().filter_map(|t| t.task_group.as_deref()))
        .collect();
    for g in task_groups::list(&client).await? {
        if group_names.contains(g.name.as_str()) {
            docs.push(Exported {
                notes: Vec::new(),
                document: Document::TaskGroup(TaskGroupSpec {
                    name: g.name,
                    size: g.size.max(0) as u32,
                    source: Default::default(),
                }),
            });
        }
    }
    let alert_names: BTreeSet<String> = specs
        .iter()
        .flat_map(|s| s.alert_group_uses().into_iter().map(|(g, _)| g.to_string()))
        .collect();
    if !alert_names.is_empty() {
        let names: Vec<String> = alert_names.into_iter().collect();
        for record in alerts::get_groups(&client, &names).await? {
            docs.push(alert_group_document(&record)?);
        }
    }
    // A whole project takes all its datasources; one workflow only those it uses.
    let used_datasources: BTreeSet<&str> = specs
        .iter()
        .flat_map(|s| s.tasks.iter())
        .filter_map(|t| match &t.kind {
            TaskKind::Sql(sql) => Some(sql.datasource.as_str()),
            TaskKind::Procedure(p) => Some(p.datasource.as_str()),
            _ => None,
        })
        .collect();
    for d in datasources::list(&client, project).await? {
        if workflow.is_none() || used_datasources.contains(d.name.as_str()) {
            docs.push(datasource_document(project, &d)?);
        }
    }
    for spec in specs {
        docs.push(Exported {
            notes: Vec::new(),
            document: Document::Workflow(spec),
        });
    }
    // Schedules added through the API (a workflow's own is in its document).
    for s in &stored_schedules {
        if s.source == "api" && workflow.is_none_or(|w| w == s.workflow) {
            docs.push(Exported {
                notes: Vec::new(),
                document: Document::Schedule(schedule_document(s)),
            });
        }
    }
    let mut out = render(&docs);
    // The project's variables and secrets (never a secret's value) go with a whole project.
    if workflow.is_none() {
        let values = super::values::export_values(&client, project).await?;
        if !values.is_empty() {
            if !out.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&values);
        }
    }
    print!("{out}");
    Ok(0)
}

/// What applying one document would do.
enum Verdict {
    Created,
    Unchanged,
    Changed { diff: String },
}

fn verdict(stored: Option<String>, new: &str) -> Verdict {
    match stored {
        None => Verdict::Created,
        Some(old) if old == new => Verdict::Unchanged,
        Some(old) => {
            let lines = crate::view::diff::line_diff(&old, new);
            let mut diff = String::from("--- stored\n+++ file\n");
            for hunk in crate::view::diff::hunks(&lines, 3) {
                diff.push_str(&hunk.header());
                diff.push('\n');
                for line in hunk.lines {
                    let sign = match line.kind {
                        crate::view::diff::DiffKind::Same => ' ',
                        crate::view::diff::DiffKind::Added => '+',
                        crate::view::diff::DiffKind::Removed => '-',
                    };
                    diff.push(sign);
                    diff.push_str(&line.text);
                    diff.push('\n');
                }
            }
            Verdict::Changed { diff }
        }
    }
}

fn report(what: &str, verdict: Verdict, note: Option<&str>) {
    let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
    match verdict {
        Verdict::Created => println!("{what}: created{note}"),
        Verdict::Unchanged => println!("{what}: unchanged{note}"),
        Verdict::Changed { diff } => {
            println!("{what}: changed{note}");
            print!("{diff}");
        }
    }
}

fn yaml(document: Document) -> String {
    crate::spec::document_to_yaml(&document)
}

/// `pgdag apply --dry-run -f PATH...`: the checks `apply` makes, then per document what
/// applying would do, with a unified diff of its YAML against the stored form. Reads
/// only. Secrets are never compared (stored ones are encrypted): a `password:` in a file is
/// left out of both sides and said.
pub async fn dry_run(files: &[PathBuf]) -> CliResult {
    let checked =
        crate::apply::load_paths(files).map_err(|errors| CliError::usage(errors.join("\n")))?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let referenced = checked.referenced_groups();
    if !referenced.is_empty() {
        let stored: Vec<String> = alerts::get_groups(&client, &referenced)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let missing = checked.missing_alert_groups(&stored);
        if !missing.is_empty() {
            return Err(CliError::usage(missing.join("\n")));
        }
    }
    if !checked.tenant_refs.is_empty() {
        let problems = checked.tenant_problems(&tenants::list(&client).await?);
        if !problems.is_empty() {
            return Err(CliError::usage(problems.join("\n")));
        }
    }
    for t in &checked.tenants {
        let stored = tenants::get(&client, &t.name)
            .await?
            .map(|s| yaml(tenant_document(s).document));
        let new = yaml(Document::Tenant(t.clone()));
        report(&format!("tenant {}", t.name), verdict(stored, &new), None);
    }
    for d in &checked.datasources {
        let stored = match datasources::list(&client, &d.project)
            .await?
            .iter()
            .find(|s| s.name == d.name)
        {
            Some(s) => Some(yaml(datasource_document(&d.project, s)?.document)),
            None => None,
        };
        let mut new = d.clone();
        let note = new.password.take().map(|_| "its password is not compared");
        new.allow_scheduler_database = false;
        let new = yaml(Document::Datasource(new));
        report(
            &format!("datasource {}/{}", d.project, d.name),
            verdict(stored, &new),
            note,
        );
    }
    for g in &checked.alert_groups {
        let stored = match alerts::get_group(&client, &g.name).await? {
            Some(record) => {
                let channels = crate::alert::channel::stored_channels(&record.channels)
                    .map_err(CliError::runtime)?;
                Some(yaml(Document::AlertGroup(AlertGroupSpec {
                    name: record.name,
                    channels,
                    source: Default::default(),
                })))
            }
            None => None,
        };
        let mut new = g.clone();
        let mut note = None;
        for channel in &mut new.channels {
            if let AlertChannel::Email(email) = channel
                && email.smtp.password.take().is_some()
            {
                note = Some("SMTP passwords are not compared");
            }
        }
        let new = yaml(Document::AlertGroup(new));
        report(
            &format!("alert group {}", g.name),
            verdict(stored, &new),
            note,
        );
    }
    let stored_groups = task_groups::list(&client).await?;
    for g in &checked.task_groups {
        let stored = stored_groups.iter().find(|s| s.name == g.name).map(|s| {
            yaml(Document::TaskGroup(TaskGroupSpec {
                name: s.name.clone(),
                size: s.size.max(0) as u32,
                source: Default::default(),
            }))
        });
        let new = yaml(Document::TaskGroup(g.clone()));
        report(
            &format!("task group {}", g.name),
            verdict(stored, &new),
            None,
        );
    }
    for w in &checked.workflows {
        let stored = definitions::get_spec(&client, &w.project, &w.name, None)
            .await?
            .map(|(spec, _)| crate::spec::to_yaml(&spec));
        let new = crate::spec::to_yaml(w);
        report(
            &format!("workflow {}/{}", w.project, w.name),
            verdict(stored, &new),
            None,
        );
    }
    for s in &checked.schedules {
        let what = format!(
            "schedule {:?} of {}/{}",
            s.schedule.cron, s.project, s.workflow
        );
        let schedule = schedules::YamlSchedule::from_schedule(&s.schedule)
            .map_err(|e| CliError::usage(format!("{what}: {e}")))?;
        let stored = match definitions::find_workflow(&client, &s.project, &s.workflow).await? {
            Some(current) => schedules::find_api(&client, current.code, &schedule)
                .await?
                .map(|(_, enabled)| {
                    let mut doc = s.clone();
                    doc.schedule.enabled = enabled;
                    yaml(Document::Schedule(doc))
                }),
            None => {
                let defined = checked
                    .workflows
                    .iter()
                    .any(|w| w.project == s.project && w.name == s.workflow);
                if !defined {
                    return Err(CliError::usage(format!(
                        "{what}: workflow {}/{} does not exist (apply it first, or in the same files)",
                        s.project, s.workflow
                    )));
                }
                None
            }
        };
        let new = yaml(Document::Schedule(s.clone()));
        report(&what, verdict(stored, &new), None);
    }
    eprintln!("dry run: nothing was written");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_is_cut_to_its_origin_when_anything_follows() {
        assert_eq!(
            origin("https://h.example.com"),
            ("https://h.example.com".into(), false)
        );
        assert_eq!(
            origin("https://h.example.com/"),
            ("https://h.example.com".into(), false)
        );
        assert_eq!(
            origin("http://h:8080/a/TOKEN"),
            ("http://h:8080".into(), true)
        );
        assert_eq!(origin("https://h/?key=x"), ("https://h".into(), true));
        assert_eq!(origin("https://u:pw@h"), ("https://h".into(), true));
    }

    #[test]
    fn a_stored_smtp_password_is_named_by_a_variable_of_its_group() {
        assert_eq!(password_var("oncall", 1), "ONCALL_SMTP_PASSWORD");
        assert_eq!(
            password_var("data-team.eu", 2),
            "DATA_TEAM_EU_SMTP_PASSWORD_2"
        );
        assert_eq!(password_var("9ops", 1), "_9OPS_SMTP_PASSWORD");
    }
}
