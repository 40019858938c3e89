//! From YAML files (or a request body) to validated workflow specs ready to store.
//! Reads files and nothing else; the caller stores the result in one transaction, so a
//! bad document means nothing is written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::alert::channel::SealedGroup;
use crate::secret::SecretKey;
use crate::spec::{
    self, AlertChannel, AlertGroupSpec, DatasourceSpec, Document, ScheduleDocSpec, SecretSource,
    SecretSpec, SpecError, TaskGroupSpec, TenantSpec, VariablesSpec, WorkflowSpec,
};
use crate::store::datasources::NewDatasource;

/// What one or more files define, checked.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub workflows: Vec<WorkflowSpec>,
    pub task_groups: Vec<TaskGroupSpec>,
    pub datasources: Vec<DatasourceSpec>,
    pub alert_groups: Vec<AlertGroupSpec>,
    pub tenants: Vec<TenantSpec>,
    /// `kind: schedule` documents: schedules besides the workflows' own.
    pub schedules: Vec<ScheduleDocSpec>,
    pub variables: Vec<VariablesSpec>,
    pub secrets: Vec<SecretSpec>,
    /// Where the workflows name alert groups (`notify.group`, `send_result_to`).
    pub group_refs: Vec<GroupRef>,
    /// Where the workflows name tenants (`tenant:`).
    pub tenant_refs: Vec<TenantRef>,
}

/// A workflow's `tenant:`, with where it is written.
#[derive(Debug, Clone)]
pub struct TenantRef {
    pub tenant: String,
    pub project: String,
    pub workflow: String,
    pub file: String,
    pub pos: spec::Pos,
}

/// A workflow's use of an alert group, with where it is written.
#[derive(Debug, Clone)]
pub struct GroupRef {
    pub group: String,
    pub file: String,
    pub pos: spec::Pos,
    /// `notify.group` or `send_result_to of task NAME`.
    pub what: String,
}

impl Checked {
    /// The kind of the one document these files hold (`workflow`, `datasource`,
    /// `task_group`, `alert_group`), or `None` when they hold none or several: for the
    /// REST and web forms that take exactly one document of one kind.
    pub fn single_kind(&self) -> Option<&'static str> {
        let kinds = [
            ("workflow", self.workflows.len()),
            ("datasource", self.datasources.len()),
            ("task_group", self.task_groups.len()),
            ("alert_group", self.alert_groups.len()),
            ("tenant", self.tenants.len()),
            ("schedule", self.schedules.len()),
            ("variables", self.variables.len()),
            ("secret", self.secrets.len()),
        ];
        match kinds.iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>()[..] {
            [(kind, 1)] => Some(kind),
            _ => None,
        }
    }

    /// The alert groups ready to store, passwords sealed with `key` (needed for a
    /// `password:`; `password_env` is read by the alert process when it sends).
    pub fn sealed_alert_groups(&self, key: Option<&SecretKey>) -> Result<Vec<SealedGroup>, String> {
        self.alert_groups
            .iter()
            .map(|g| crate::alert::channel::seal(g, key))
            .collect()
    }

    /// The alert groups the workflows name that are neither defined here nor in `existing`,
    /// as `file:line:column: ...` messages.
    pub fn missing_alert_groups(&self, existing: &[String]) -> Vec<String> {
        self.group_refs
            .iter()
            .filter(|r| {
                !existing.contains(&r.group) && !self.alert_groups.iter().any(|g| g.name == r.group)
            })
            .map(|r| {
                format!(
                    "{}:{}:{}: {} names alert group {}, which does not exist (define it with a kind: alert_group document)",
                    r.file, r.pos.line, r.pos.column, r.what, r.group
                )
            })
            .collect()
    }

    /// The tenants the workflows name that their project may not use, given the tenants
    /// defined here (which win) and those `stored`: `file:line:column: ...` messages.
    pub fn tenant_problems(&self, stored: &[crate::store::tenants::Tenant]) -> Vec<String> {
        self.tenant_refs
            .iter()
            .filter_map(|r| {
                let tenant = self
                    .tenants
                    .iter()
                    .find(|t| t.name == r.tenant)
                    .map(|t| crate::store::tenants::Tenant {
                        name: t.name.clone(),
                        os_user: t.os_user.clone(),
                        projects: t.projects.clone(),
                        default_for: t.default_for.clone(),
                    })
                    .or_else(|| stored.iter().find(|t| t.name == r.tenant).cloned());
                let why = crate::store::tenants::refusal(tenant.as_ref(), &r.tenant, &r.project)?;
                Some(format!(
                    "{}:{}:{}: workflow {}/{}: {why}",
                    r.file, r.pos.line, r.pos.column, r.project, r.workflow
                ))
            })
            .collect()
    }

    /// Every alert group name the workflows use.
    pub fn referenced_groups(&self) -> Vec<String> {
        let mut names: Vec<String> = self.group_refs.iter().map(|r| r.group.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The secrets ready to store, values encrypted with `key` (needed for a `value:`;
    /// `value_env` is read by the worker that runs the task).
    pub fn sealed_secrets(
        &self,
        key: Option<&SecretKey>,
    ) -> Result<Vec<crate::store::project_values::NewSecret<'_>>, String> {
        self.secrets
            .iter()
            .map(|s| {
                let (value_secret, value_env) = match (&s.value, key) {
                    (SecretSource::Env(var), _) => (None, Some(var.as_str())),
                    (SecretSource::Value(text), Some(key)) => (Some(key.encrypt(&text.0)), None),
                    (SecretSource::Value(_), None) => {
                        return Err(format!(
                            "secret {}/{} has a value: set {} to the key that encrypts stored secrets (or use value_env)",
                            s.project,
                            s.name,
                            crate::secret::SECRET_KEY_VAR
                        ));
                    }
                };
                Ok(crate::store::project_values::NewSecret {
                    project: &s.project,
                    name: &s.name,
                    value_secret,
                    value_env,
                })
            })
            .collect()
    }

    /// The projects whose variables or secrets these documents set (the applier needs
    /// write access to each).
    pub fn value_projects(&self) -> Vec<&str> {
        let mut projects: Vec<&str> = self
            .variables
            .iter()
            .map(|v| v.project.as_str())
            .chain(self.secrets.iter().map(|s| s.project.as_str()))
            .collect();
        projects.sort();
        projects.dedup();
        projects
    }

    /// The datasources ready to store, passwords encrypted with `key`. A datasource with a
    /// `password:` needs the key; `password_env` is resolved by the worker that runs the task.
    pub fn sealed_datasources(
        &self,
        key: Option<&SecretKey>,
    ) -> Result<Vec<NewDatasource<'_>>, String> {
        self.datasources
            .iter()
            .map(|d| {
                let password_secret = match (&d.password, key) {
                    (None, _) => None,
                    (Some(password), Some(key)) => Some(key.encrypt(password)),
                    (Some(_), None) => {
                        return Err(format!(
                            "datasource {}/{} has a password: set {} to the key that encrypts stored passwords (or use password_env)",
                            d.project,
                            d.name,
                            crate::secret::SECRET_KEY_VAR
                        ));
                    }
                };
                Ok(NewDatasource {
                    project: &d.project,
                    name: &d.name,
                    db_type: d.db_type.as_str(),
                    url: &d.url,
                    password_env: d.password_env.as_deref(),
                    password_secret,
                })
            })
            .collect()
    }
}

/// A datasource URL's problem, if any: its scheme must match the type, and a password
/// written into it would be stored and shown in clear.
pub fn datasource_url_problem(d: &DatasourceSpec) -> Option<String> {
    let schemes: &[&str] = match d.db_type {
        spec::DatasourceType::Postgres => &["postgres://", "postgresql://"],
        spec::DatasourceType::Mysql => &["mysql://"],
    };
    if !schemes.iter().any(|s| d.url.starts_with(s)) {
        return Some(format!(
            "url of a {} datasource must start with {}",
            d.db_type,
            schemes.join(" or ")
        ));
    }
    let rest = &d.url[d.url.find("://").map_or(0, |i| i + 3)..];
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && userinfo.contains(':')
    {
        return Some("url must not contain a password (use `password:` or `password_env:`)".into());
    }
    None
}

/// Datasources whose url reaches the scheduler's own database (same host, port and database
/// name as `own`, the process's own connection settings) without `allow_scheduler_database:
/// true`: one message each. Hosts are compared after DNS resolution; loopback addresses and
/// Unix sockets count as one local host.
pub async fn scheduler_database_problems(
    datasources: &[DatasourceSpec],
    own: &[tokio_postgres::Config],
) -> Vec<String> {
    let mut targets = Vec::new();
    for config in own {
        targets.push(DbTarget::of(config).await);
    }
    let own = targets;
    let mut out = Vec::new();
    for d in datasources {
        if d.allow_scheduler_database || d.db_type != spec::DatasourceType::Postgres {
            continue;
        }
        // tokio-postgres does not know every libpq sslmode (verify-full): read the URL
        // the way a worker connects with it.
        let url =
            crate::tasks::tls::split_sslmode(&d.url).map_or_else(|_| d.url.clone(), |(u, _)| u);
        let Ok(config) = url.parse::<tokio_postgres::Config>() else {
            continue;
        };
        let target = DbTarget::of(&config).await;
        if own.iter().any(|o| o.same_as(&target)) {
            out.push(format!(
                "datasource {}/{}: its url reaches the scheduler's own database ({}); only an admin may allow that, with `allow_scheduler_database: true`",
                d.project, d.name, target.dbname
            ));
        }
    }
    out
}

/// Where a Postgres URL connects: addresses (or "local"), port, database.
struct DbTarget {
    local: bool,
    addrs: Vec<std::net::IpAddr>,
    port: u16,
    dbname: String,
}

impl DbTarget {
    async fn of(config: &tokio_postgres::Config) -> DbTarget {
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let dbname = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
            .to_string();
        let mut local = config.get_hosts().is_empty();
        let mut addrs = Vec::new();
        for host in config.get_hosts() {
            match host {
                tokio_postgres::config::Host::Unix(_) => local = true,
                tokio_postgres::config::Host::Tcp(name) => {
                    if let Ok(found) = tokio::net::lookup_host((name.as_str(), port)).await {
                        addrs.extend(found.map(|a| a.ip()));
                    }
                }
            }
        }
        local |= addrs.iter().any(|a| a.is_loopback());
        DbTarget {
            local,
            addrs,
            port,
            dbname,
        }
    }

    fn same_as(&self, other: &DbTarget) -> bool {
        self.port == other.port
            && self.dbname == other.dbname
            && ((self.local && other.local) || self.addrs.iter().any(|a| other.addrs.contains(a)))
    }
}

/// Parse and check one file's text: every error of every document, or the workflows. A
/// file that defines task groups, datasources or alert groups is refused here: use
/// [`check_documents`].
pub fn check_text(file: &str, text: &str) -> Result<Vec<WorkflowSpec>, Vec<SpecError>> {
    let checked = check_documents(file, text)?;
    let other = checked
        .task_groups
        .first()
        .map(|g| (g.source.pos("kind"), "task_group"))
        .or_else(|| {
            checked
                .datasources
                .first()
                .map(|d| (d.source.pos("kind"), "datasource"))
        })
        .or_else(|| {
            checked
                .alert_groups
                .first()
                .map(|g| (g.source.pos("kind"), "alert_group"))
        })
        .or_else(|| {
            checked
                .tenants
                .first()
                .map(|t| (t.source.pos("kind"), "tenant"))
        })
        .or_else(|| {
            checked
                .schedules
                .first()
                .map(|s| (s.source.pos("kind"), "schedule"))
        })
        .or_else(|| {
            checked
                .variables
                .first()
                .map(|v| (v.source.pos("kind"), "variables"))
        })
        .or_else(|| {
            checked
                .secrets
                .first()
                .map(|v| (v.source.pos("kind"), "secret"))
        });
    if let Some((pos, kind)) = other {
        return Err(vec![SpecError {
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message: format!("a {kind} document is applied with `pgdag apply`, not here"),
        }]);
    }
    Ok(checked.workflows)
}

/// Parse and check one file's text: every error of every document, or what it defines.
pub fn check_documents(file: &str, text: &str) -> Result<Checked, Vec<SpecError>> {
    let documents = spec::parse_documents(file, text)?;
    let mut errors = Vec::new();
    let mut workflows = Vec::new();
    let mut task_groups = Vec::new();
    let mut datasources = Vec::new();
    let mut alert_groups = Vec::new();
    let mut tenants = Vec::new();
    let mut schedules = Vec::new();
    let mut variables = Vec::new();
    let mut secrets = Vec::new();
    let mut group_refs = Vec::new();
    let mut tenant_refs = Vec::new();
    for document in documents {
        if let Document::Schedule(s) = &document
            && let Err(message) = crate::store::schedules::YamlSchedule::from_schedule(&s.schedule)
        {
            let pos = s.source.pos("cron");
            errors.push(SpecError {
                file: file.to_string(),
                line: pos.line,
                column: pos.column,
                message: format!("schedule: {message}"),
            });
        }
        errors.extend(spec::unavailable_features(file, &document));
        for (pos, message) in crate::tasks::validate_document(&document) {
            errors.push(SpecError {
                file: file.to_string(),
                line: pos.line,
                column: pos.column,
                message,
            });
        }
        if let Document::Datasource(d) = &document
            && let Some(message) = datasource_url_problem(d)
        {
            let pos = d.source.pos("url");
            errors.push(SpecError {
                file: file.to_string(),
                line: pos.line,
                column: pos.column,
                message,
            });
        }
        if let Document::AlertGroup(group) = &document {
            for (pos, message) in alert_group_problems(group) {
                errors.push(SpecError {
                    file: file.to_string(),
                    line: pos.line,
                    column: pos.column,
                    message,
                });
            }
        }
        if let Document::Workflow(workflow) = &document {
            group_refs.extend(workflow_group_refs(file, workflow));
            if let Some(tenant) = &workflow.tenant {
                tenant_refs.push(TenantRef {
                    tenant: tenant.clone(),
                    project: workflow.project.clone(),
                    workflow: workflow.name.clone(),
                    file: file.to_string(),
                    pos: workflow.source.pos("tenant"),
                });
            }
            if let Err(message) = crate::store::schedules::YamlSchedule::from_spec(workflow) {
                let pos = workflow.source.pos("schedule");
                errors.push(SpecError {
                    file: file.to_string(),
                    line: pos.line,
                    column: pos.column,
                    message: format!("schedule: {message}"),
                });
            }
        }
        match document {
            Document::Workflow(workflow) => workflows.push(workflow),
            Document::TaskGroup(group) => task_groups.push(group),
            Document::Datasource(d) => datasources.push(d),
            Document::AlertGroup(g) => alert_groups.push(g),
            Document::Tenant(t) => tenants.push(t),
            Document::Schedule(s) => schedules.push(s),
            Document::Variables(v) => variables.push(v),
            Document::Secret(s) => secrets.push(s),
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            workflows,
            task_groups,
            datasources,
            alert_groups,
            tenants,
            schedules,
            variables,
            secrets,
            group_refs,
            tenant_refs,
        })
    } else {
        Err(errors)
    }
}

/// The alert groups a workflow names, with their positions.
pub fn workflow_group_refs(file: &str, workflow: &WorkflowSpec) -> Vec<GroupRef> {
    workflow
        .alert_group_uses()
        .into_iter()
        .map(|(group, what)| {
            let pos = match what.as_str() {
                "notify" => workflow.source.pos("notify"),
                _ => workflow
                    .tasks
                    .iter()
                    .find(|t| what.ends_with(&format!(" task {}", t.name)))
                    .map(|t| t.source.pos("send_result_to"))
                    .unwrap_or_default(),
            };
            GroupRef {
                group: group.to_string(),
                file: file.to_string(),
                pos,
                what: format!("workflow {}/{}: {what}", workflow.project, workflow.name),
            }
        })
        .collect()
}

/// Problems of an alert group beyond its YAML shape: SMTP auth needs both a user and a
/// password; a webhook URL is used as written (no `${...}`).
fn alert_group_problems(group: &AlertGroupSpec) -> Vec<(spec::Pos, String)> {
    let mut problems = Vec::new();
    for (i, channel) in group.channels.iter().enumerate() {
        if let AlertChannel::Webhook(hook) = channel {
            let lower = hook.url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                problems.push((
                    group.source.pos("channels"),
                    format!(
                        "channel {}: a webhook `url` must start with http:// or https://, not {:?}",
                        i + 1,
                        hook.url
                    ),
                ));
            }
        }
        if let AlertChannel::Email(email) = channel {
            let has_password = email.smtp.password.is_some() || email.smtp.password_env.is_some();
            let pos = group.source.pos("channels");
            if email.smtp.user.is_some() && !has_password {
                problems.push((
                    pos,
                    format!(
                        "channel {}: smtp.user needs `password` or `password_env`",
                        i + 1
                    ),
                ));
            }
            if email.smtp.user.is_none() && has_password {
                problems.push((
                    pos,
                    format!("channel {}: an smtp password needs `user`", i + 1),
                ));
            }
        }
    }
    problems
}

/// The YAML files named: files as given, directories walked for `*.yaml` / `*.yml` in
/// name order.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<String>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files, &mut errors);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(format!("{}: no such file or directory", path.display()));
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files, errors);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}

/// Read, parse and check every file; a workflow defined twice is an error too.
pub fn load_paths(paths: &[PathBuf]) -> Result<Checked, Vec<String>> {
    let files = collect_files(paths)?;
    let mut errors: Vec<String> = Vec::new();
    let mut workflows = Vec::new();
    let mut task_groups: Vec<TaskGroupSpec> = Vec::new();
    let mut datasources: Vec<DatasourceSpec> = Vec::new();
    let mut alert_groups: Vec<AlertGroupSpec> = Vec::new();
    let mut group_refs: Vec<GroupRef> = Vec::new();
    let mut tenants: Vec<TenantSpec> = Vec::new();
    let mut tenant_refs: Vec<TenantRef> = Vec::new();
    let mut schedules: Vec<ScheduleDocSpec> = Vec::new();
    let mut variables: Vec<VariablesSpec> = Vec::new();
    let mut secrets: Vec<SecretSpec> = Vec::new();
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for file in &files {
        let name = file.display().to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        match check_documents(&name, &text) {
            Ok(found) => {
                for group in found.task_groups {
                    if task_groups.iter().any(|g| g.name == group.name) {
                        errors.push(format!(
                            "{name}: task group {} is defined twice",
                            group.name
                        ));
                    } else {
                        task_groups.push(group);
                    }
                }
                for group in found.alert_groups {
                    if alert_groups.iter().any(|g| g.name == group.name) {
                        errors.push(format!(
                            "{name}: alert group {} is defined twice",
                            group.name
                        ));
                    } else {
                        alert_groups.push(group);
                    }
                }
                group_refs.extend(found.group_refs);
                tenant_refs.extend(found.tenant_refs);
                // Two files naming the same schedule apply it twice: harmless, as once.
                for s in found.schedules {
                    if !schedules.contains(&s) {
                        schedules.push(s);
                    }
                }
                for tenant in found.tenants {
                    if tenants.iter().any(|t| t.name == tenant.name) {
                        errors.push(format!("{name}: tenant {} is defined twice", tenant.name));
                    } else {
                        tenants.push(tenant);
                    }
                }
                for v in found.variables {
                    if variables.iter().any(|o| o.project == v.project) {
                        errors.push(format!(
                            "{name}: the variables of project {} are defined twice",
                            v.project
                        ));
                    } else {
                        variables.push(v);
                    }
                }
                for s in found.secrets {
                    if secrets
                        .iter()
                        .any(|o| o.project == s.project && o.name == s.name)
                    {
                        errors.push(format!(
                            "{name}: secret {}/{} is defined twice",
                            s.project, s.name
                        ));
                    } else {
                        secrets.push(s);
                    }
                }
                for d in found.datasources {
                    if datasources
                        .iter()
                        .any(|o| o.project == d.project && o.name == d.name)
                    {
                        errors.push(format!(
                            "{name}: datasource {}/{} is defined twice",
                            d.project, d.name
                        ));
                    } else {
                        datasources.push(d);
                    }
                }
                for workflow in found.workflows {
                    let key = (workflow.project.clone(), workflow.name.clone());
                    if let Some(first) = seen.get(&key) {
                        errors.push(format!(
                            "{name}: workflow {}/{} is also defined in {first}",
                            workflow.project, workflow.name
                        ));
                    } else {
                        seen.insert(key, name.clone());
                        workflows.push(workflow);
                    }
                }
            }
            Err(found) => errors.extend(found.into_iter().map(|e| e.to_string())),
        }
    }
    if files.is_empty() && errors.is_empty() {
        errors.push("no YAML files found (expected *.yaml or *.yml)".into());
    }
    if errors.is_empty() {
        Ok(Checked {
            workflows,
            task_groups,
            datasources,
            alert_groups,
            tenants,
            schedules,
            variables,
            secrets,
            group_refs,
            tenant_refs,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_the_project_may_not_use_is_refused_at_its_line() {
        let text = "project: p\nname: w\ntenant: analysts\ntasks: [{name: a, type: empty}]\n---\nproject: q\nname: w\ntenant: analysts\ntasks: [{name: a, type: empty}]\n---\nproject: q\nname: v\ntenant: ghost\ntasks: [{name: a, type: empty}]\n";
        let checked = check_documents("f.yaml", text).unwrap();
        let stored = vec![crate::store::tenants::Tenant {
            name: "analysts".into(),
            os_user: "ana".into(),
            projects: vec!["p".into()],
            default_for: vec![],
        }];
        assert_eq!(
            checked.tenant_problems(&stored),
            [
                "f.yaml:8:1: workflow q/w: tenant analysts may not be used by project q (its `projects` does not list it)",
                "f.yaml:13:1: workflow q/v: tenant ghost does not exist (define it with a kind: tenant document)",
            ]
        );
        // A tenant defined in the same files wins over the stored one.
        let with =
            format!("{text}---\nkind: tenant\nname: analysts\nos_user: ana\nprojects: [p, q]\n");
        let checked = check_documents("f.yaml", &with).unwrap();
        assert_eq!(checked.tenant_problems(&stored).len(), 1);
    }

    #[test]
    fn single_kind_names_the_one_document_or_none() {
        let one = check_documents("a.yaml", "kind: task_group\nname: g\nsize: 2\n").unwrap();
        assert_eq!(one.single_kind(), Some("task_group"));
        let two = check_documents(
            "b.yaml",
            "kind: task_group\nname: g\nsize: 2\n---\nkind: alert_group\nname: a\nchannels:\n  - { type: webhook, url: 'http://127.0.0.1:9/x' }\n",
        )
        .unwrap();
        assert_eq!(two.single_kind(), None);
        assert_eq!(Checked::default().single_kind(), None);
    }

    #[test]
    fn smtp_auth_needs_a_user_and_a_password_and_group_uses_are_found() {
        let text = "kind: alert_group\nname: g\nchannels:\n  - { type: email, to: [a@x.org], smtp: { host: h, port: 25, from: p@x.org, user: u } }\n  - { type: email, to: [a@x.org], smtp: { host: h, port: 25, from: p@x.org, password_env: PW } }\n";
        let errors: Vec<String> = check_documents("g.yaml", text)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "g.yaml:3:1: channel 1: smtp.user needs `password` or `password_env`",
                "g.yaml:3:1: channel 2: an smtp password needs `user`",
            ]
        );
        let text =
            "kind: alert_group\nname: g\nchannels:\n  - { type: webhook, url: \"${HOOK}\" }\n";
        let errors = check_documents("g.yaml", text).unwrap_err();
        assert!(
            errors[0]
                .message
                .contains("must start with http:// or https://"),
            "{errors:?}"
        );
        let text = "project: p\nname: w\nnotify: { when: none, group: team }\ntasks:\n  - { name: a, type: empty }\n  - name: q\n    type: sql\n    datasource: d\n    sql: select 1\n    send_result_to: reports\n";
        let checked = check_documents("w.yaml", text).unwrap();
        assert_eq!(checked.referenced_groups(), ["reports", "team"]);
        let missing = checked.missing_alert_groups(&["team".to_string()]);
        assert_eq!(
            missing,
            [
                "w.yaml:10:5: workflow p/w: send_result_to of task q names alert group reports, which does not exist (define it with a kind: alert_group document)"
            ]
        );
    }
}
