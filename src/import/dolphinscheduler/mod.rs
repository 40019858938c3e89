//! `pgdag import dolphinscheduler`: DolphinScheduler export files → pgdag documents and a
//! report. Pure: the caller hands in file names and their text, and gets back the specs
//! that `apply` takes (already checked by the same code `apply` runs) or every problem.
//!
//! Jobs, one file each: `read` (formats, JSON positions, normalization), `names` (safe,
//! deterministic names), `tasks` (task types and their parameters), `report` (problems
//! and `IMPORT.md`). This file puts a workflow together: names and references, relations,
//! the keys every task has, the workflow's own keys and its schedule.

pub mod names;
mod read;
mod report;
mod tasks;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use read::{MAX_FILE_BYTES, MAX_TASKS, MAX_WORKFLOWS};
pub use report::{Entry, EntryKind, Problem, Report};

use read::{DsTask, DsWorkflow};
use tasks::{Index, Issue, Target, TaskCx};

use crate::model::{Condition, Duration, ExecutionType, FailureStrategy, Priority, Release};
use crate::spec::{
    DatasourceSpec, DatasourceType, DependsOn, ParamMap, ScheduleSpec, ScriptTask, TaskKind,
    TaskSpec, TaskTimeout, TimeoutStrategy, WorkflowSpec, name_problem,
};

/// One export file.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Put every workflow and datasource into this project.
    pub project: Option<String>,
    /// Turn tasks pgdag cannot carry into shell tasks that fail, instead of failing.
    pub allow_unsupported: bool,
}

/// What an import produces.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Sorted by project and name.
    pub workflows: Vec<WorkflowSpec>,
    /// Datasources the sql and procedure tasks name, without passwords; sorted.
    pub datasources: Vec<DatasourceSpec>,
    pub report: Report,
}

const DATASOURCE_NOTE: &str = "# Imported from DolphinScheduler: complete `url` (user, host, port, database) and add\n# `password_env:` or `password:` before the sql tasks that use this datasource can run.\n";

impl Imported {
    /// One YAML file per workflow (`PROJECT/WORKFLOW.yaml`) and one for each project's
    /// datasources (`PROJECT/datasources.yaml`), as `(relative path, text)`, sorted.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut files = Vec::new();
        for w in &self.workflows {
            files.push((
                format!("{}/{}.yaml", w.project, w.name),
                crate::spec::to_yaml(w),
            ));
        }
        let mut by_project: BTreeMap<&str, Vec<&DatasourceSpec>> = BTreeMap::new();
        for d in &self.datasources {
            by_project.entry(&d.project).or_default().push(d);
        }
        for (project, list) in by_project {
            let docs: Vec<String> = list.iter().map(|d| datasource_yaml(d)).collect();
            files.push((
                format!("{project}/datasources.yaml"),
                format!("{DATASOURCE_NOTE}{}", docs.join("---\n")),
            ));
        }
        files.sort();
        files
    }

    /// Every document in one YAML stream: datasources first, then the workflows.
    pub fn yaml(&self) -> String {
        let mut docs: Vec<String> = self.datasources.iter().map(datasource_yaml).collect();
        docs.extend(self.workflows.iter().map(crate::spec::to_yaml));
        docs.join("---\n")
    }
}

fn datasource_yaml(d: &DatasourceSpec) -> String {
    let body = serde_saphyr::to_string(d).unwrap_or_default();
    format!("kind: datasource\n{body}")
}

/// A placeholder URL the user completes; accepted by `apply` as it is.
fn placeholder_url(db_type: DatasourceType) -> String {
    match db_type {
        DatasourceType::Postgres => "postgres://CHANGE_ME@CHANGE_ME.invalid:5432/CHANGE_ME".into(),
        DatasourceType::Mysql => "mysql://CHANGE_ME@CHANGE_ME.invalid:3306/CHANGE_ME".into(),
    }
}

/// A workflow read from a file, with the project it goes to.
struct Loaded {
    file: String,
    wf: DsWorkflow,
    project: String,
    /// The project name of the export, when it has one.
    project_original: Option<String>,
}

/// Converts the files. All of them or nothing: any problem anywhere returns every problem
/// found (sorted by file, position, workflow, task).
pub fn import(inputs: &[Input], options: &Options) -> Result<Imported, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut report = Report::default();
    if let Some(project) = &options.project
        && let Some(why) = name_problem(project)
    {
        return Err(vec![Problem {
            file: "--project".into(),
            line: 0,
            column: 0,
            workflow: None,
            task: None,
            field: None,
            message: format!("{project:?} {why}"),
        }]);
    }

    let mut loaded: Vec<Loaded> = Vec::new();
    for input in inputs {
        let (format, workflows) = match read::read_file(input.text) {
            Ok(found) => found,
            Err(e) => {
                problems.push(Problem {
                    file: input.file.to_string(),
                    line: e.line,
                    column: e.column,
                    workflow: None,
                    task: None,
                    field: None,
                    message: e.message,
                });
                continue;
            }
        };
        report.files.push((
            input.file.to_string(),
            format.label().to_string(),
            workflows.len(),
        ));
        let mut codes_only = Vec::new();
        for wf in workflows {
            let project = match (&options.project, &wf.project_name) {
                (Some(p), _) => p.clone(),
                (None, Some(original)) => {
                    let name = names::derive(original, "project");
                    if &name != original {
                        report.entries.push(Entry {
                            kind: EntryKind::Rename,
                            file: input.file.to_string(),
                            workflow: format!("project {name}"),
                            task: None,
                            text: format!("project {original:?} became {name}"),
                        });
                    }
                    name
                }
                (None, None) => {
                    codes_only.push(
                        wf.project_code
                            .map_or_else(|| "none".to_string(), |c| c.to_string()),
                    );
                    continue;
                }
            };
            loaded.push(Loaded {
                file: input.file.to_string(),
                project,
                project_original: wf.project_name.clone(),
                wf,
            });
        }
        if !codes_only.is_empty() {
            codes_only.sort();
            codes_only.dedup();
            problems.push(Problem {
                file: input.file.to_string(),
                line: 1,
                column: 1,
                workflow: None,
                task: None,
                field: Some("projectCode".into()),
                message: format!(
                    "this {} export names its project only by code ({}): give --project P to choose the pgdag project",
                    format.label(),
                    codes_only.join(", ")
                ),
            });
        }
    }
    if loaded.len() > MAX_WORKFLOWS {
        problems.push(Problem {
            file: inputs.first().map_or("", |i| i.file).to_string(),
            line: 1,
            column: 1,
            workflow: None,
            task: None,
            field: None,
            message: format!("more than {MAX_WORKFLOWS} workflows in one import"),
        });
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(problems);
    }

    duplicates(&loaded, &mut problems);

    // Workflow names per project, task names per workflow.
    let mut per_project: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in &loaded {
        per_project.entry(&l.project).or_default().push(&l.wf.name);
    }
    let workflow_scopes: BTreeMap<&str, names::Scope> = per_project
        .into_iter()
        .map(|(p, list)| (p, names::Scope::new(list, "workflow")))
        .collect();
    let mut index = Index::default();
    let mut task_scopes = Vec::with_capacity(loaded.len());
    for (i, l) in loaded.iter().enumerate() {
        let name = workflow_scopes
            .get(l.project.as_str())
            .and_then(|s| s.get(&l.wf.name))
            .unwrap_or(&l.wf.name)
            .to_string();
        let scope = names::Scope::new(l.wf.tasks.iter().map(|t| t.name.as_str()), "task");
        let mut tasks_by_key = HashMap::new();
        let mut tasks_by_name = HashMap::new();
        for t in &l.wf.tasks {
            let pg = scope.get(&t.name).unwrap_or(&t.name).to_string();
            tasks_by_key.insert(t.key.clone(), pg.clone());
            tasks_by_name.insert(t.name.clone(), pg);
        }
        task_scopes.push(scope);
        index.targets.push(Target {
            project: l.project.clone(),
            name,
            tasks_by_key,
            tasks_by_name,
        });
        if let Some(code) = l.wf.code {
            index.by_code.insert(code, i);
        }
        if let Some(id) = l.wf.id {
            index.by_file_id.insert((l.file.clone(), id), i);
            index.by_id.entry(id).or_default().push(i);
        }
        index.by_name.insert(
            (
                l.project_original.clone().unwrap_or_default(),
                l.wf.name.clone(),
            ),
            i,
        );
    }

    let mut workflows = Vec::new();
    let mut datasources: BTreeMap<(String, String), (DatasourceType, String, String)> =
        BTreeMap::new();
    for (i, l) in loaded.iter().enumerate() {
        let mut cx = WorkflowCx {
            loaded: l,
            target: &index.targets[i],
            scope: &mut task_scopes[i],
            index: &index,
            options,
            report: &mut report,
            problems: &mut problems,
            datasources: &mut datasources,
        };
        if let Some(spec) = cx.workflow() {
            workflows.push((l, spec));
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(problems);
    }

    // What goes out is what `apply` reads back: check it with the same code.
    for (l, spec) in &workflows {
        let yaml = crate::spec::to_yaml(spec);
        let label = format!("{}/{}.yaml", spec.project, spec.name);
        match crate::apply::check_documents(&label, &yaml) {
            Ok(checked) if checked.workflows.first() == Some(spec) => {}
            Ok(_) => problems.push(workflow_problem(
                l,
                "the converted workflow does not read back the same (an importer bug)".into(),
            )),
            Err(errors) => {
                for e in errors {
                    problems.push(workflow_problem(
                        l,
                        format!("pgdag rejects the converted workflow: {e}"),
                    ));
                }
            }
        }
    }
    let datasources: Vec<DatasourceSpec> = datasources
        .into_iter()
        .map(|((project, name), (db_type, _, _))| DatasourceSpec {
            url: placeholder_url(db_type),
            project,
            name,
            db_type,
            password_env: None,
            password: None,
            allow_scheduler_database: false,
            source: Default::default(),
        })
        .collect();
    for d in &datasources {
        let yaml = datasource_yaml(d);
        if let Err(errors) = crate::apply::check_documents("datasource.yaml", &yaml) {
            for e in errors {
                problems.push(Problem {
                    file: "datasource.yaml".into(),
                    line: e.line,
                    column: e.column,
                    workflow: None,
                    task: None,
                    field: None,
                    message: format!("datasource {}/{}: {}", d.project, d.name, e.message),
                });
            }
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(problems);
    }
    let mut workflows: Vec<WorkflowSpec> = workflows.into_iter().map(|(_, s)| s).collect();
    workflows.sort_by(|a, b| (&a.project, &a.name).cmp(&(&b.project, &b.name)));
    report.entries.sort();
    report.entries.dedup();
    Ok(Imported {
        workflows,
        datasources,
        report,
    })
}

fn workflow_problem(l: &Loaded, message: String) -> Problem {
    Problem {
        file: l.file.clone(),
        line: l.wf.line,
        column: l.wf.column,
        workflow: Some(l.wf.name.clone()),
        task: None,
        field: None,
        message,
    }
}

/// The same workflow twice (by code, or by project and name).
fn duplicates(loaded: &[Loaded], problems: &mut Vec<Problem>) {
    let mut by_code: HashMap<i64, &Loaded> = HashMap::new();
    let mut by_name: HashMap<(&str, &str), &Loaded> = HashMap::new();
    for l in loaded {
        if let Some(code) = l.wf.code {
            if let Some(first) = by_code.get(&code) {
                problems.push(workflow_problem(
                    l,
                    format!(
                        "workflow code {code} is also defined in {}:{}",
                        first.file, first.wf.line
                    ),
                ));
                continue;
            }
            by_code.insert(code, l);
        }
        let key = (l.project.as_str(), l.wf.name.as_str());
        if let Some(first) = by_name.get(&key) {
            problems.push(workflow_problem(
                l,
                format!(
                    "project {} already gets a workflow of this name from {}:{}",
                    l.project, first.file, first.wf.line
                ),
            ));
            continue;
        }
        by_name.insert(key, l);
    }
}

struct WorkflowCx<'a> {
    loaded: &'a Loaded,
    target: &'a Target,
    scope: &'a mut names::Scope,
    index: &'a Index,
    options: &'a Options,
    report: &'a mut Report,
    problems: &'a mut Vec<Problem>,
    /// (project, name) → (type, origin, first file).
    datasources: &'a mut BTreeMap<(String, String), (DatasourceType, String, String)>,
}

impl WorkflowCx<'_> {
    fn entry(&mut self, kind: EntryKind, task: Option<&str>, text: String) {
        self.report.entries.push(Entry {
            kind,
            file: self.loaded.file.clone(),
            workflow: format!("{}/{}", self.target.project, self.target.name),
            task: task.map(str::to_string),
            text,
        });
    }

    fn problem(&mut self, task: Option<&str>, field: Option<&str>, message: String) {
        self.problems.push(Problem {
            file: self.loaded.file.clone(),
            line: self.loaded.wf.line,
            column: self.loaded.wf.column,
            workflow: Some(self.loaded.wf.name.clone()),
            task: task.map(str::to_string),
            field: field.map(str::to_string),
            message,
        });
    }

    fn workflow(&mut self) -> Option<WorkflowSpec> {
        let wf = &self.loaded.wf;
        let before = self.problems.len();
        let mut description = wf.description.trim().to_string();
        let mut provenance = Vec::new();
        if self.target.name != wf.name {
            self.entry(
                EntryKind::Rename,
                None,
                format!("workflow {:?} became {}", wf.name, self.target.name),
            );
            provenance.push(format!("DolphinScheduler workflow: {}", wf.name));
        }

        // Relations: task key → predecessors' keys, in the export's order.
        let keys = &self.target.tasks_by_key;
        let mut preds: HashMap<&str, Vec<&str>> = HashMap::new();
        for (pre, post, condition) in &wf.edges {
            let post_name = match keys.get(post) {
                Some(_) => post.as_str(),
                None => {
                    self.problem(
                        None,
                        Some("relations"),
                        format!("a relation leads to task {post}, which is not in this workflow"),
                    );
                    continue;
                }
            };
            if condition != "NONE" && !condition.is_empty() {
                let name = keys.get(post).cloned();
                self.problem(
                    name.as_deref(),
                    Some("conditionType"),
                    format!("relation condition {condition} has no pgdag equivalent"),
                );
            }
            if let Some(pre) = pre {
                if !keys.contains_key(pre) {
                    let name = keys.get(post).cloned();
                    self.problem(
                        name.as_deref(),
                        Some("preTasks"),
                        format!("follows task {pre}, which is not in this workflow"),
                    );
                    continue;
                }
                let list = preds.entry(post_name).or_default();
                if !list.contains(&pre.as_str()) {
                    list.push(pre);
                }
            }
        }

        let mut specs: Vec<TaskSpec> = Vec::new();
        let mut helpers: Vec<TaskSpec> = Vec::new();
        let mut task_notes: Vec<String> = Vec::new();
        for task in &wf.tasks {
            let name = keys.get(&task.key).cloned().unwrap_or_default();
            if name != task.name {
                self.entry(
                    EntryKind::Rename,
                    Some(&name),
                    format!("task {:?} became {name}", task.name),
                );
                task_notes.push(format!("task {name} was {:?}", task.name));
            }
            if !task.description.trim().is_empty() {
                task_notes.push(format!(
                    "task {name}: {}",
                    task.description.trim().replace('\n', " ")
                ));
            }
            let task_preds: Vec<String> = preds
                .get(task.key.as_str())
                .map(|v| v.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default();
            if let Some((spec, helper)) = self.task(task, &name, &task_preds) {
                specs.push(spec);
                helpers.extend(helper);
            }
        }
        specs.extend(helpers);

        // Workflow keys.
        let mut params = ParamMap::new();
        for p in &wf.global_params {
            if !p.ty.eq_ignore_ascii_case("VARCHAR") && !p.ty.is_empty() {
                self.entry(
                    EntryKind::Default,
                    None,
                    format!(
                        "global param {} of type {} is carried as text",
                        p.prop, p.ty
                    ),
                );
            }
            if p.direct.eq_ignore_ascii_case("OUT") {
                self.entry(
                    EntryKind::Default,
                    None,
                    format!(
                        "global OUT param {}: kept as a global param with its value",
                        p.prop
                    ),
                );
            }
            params.insert(p.prop.clone(), p.value.clone());
        }
        let schedule = wf.schedule.as_ref();
        let failure_strategy = match schedule.and_then(|s| s.failure_strategy.as_deref()) {
            Some("END") => FailureStrategy::End,
            _ => FailureStrategy::Continue,
        };
        if schedule.is_some() {
            self.entry(
                EntryKind::Default,
                None,
                "failure strategy and priority come from the schedule (DolphinScheduler sets them per run)".into(),
            );
        }
        let priority = schedule
            .and_then(|s| s.priority.as_deref())
            .and_then(priority)
            .unwrap_or_default();
        let execution = match wf.execution_type.as_deref() {
            Some("SERIAL_WAIT") => ExecutionType::SerialWait,
            Some("SERIAL_DISCARD") => ExecutionType::SerialDiscard,
            Some("SERIAL_PRIORITY") => ExecutionType::SerialPriority,
            _ => ExecutionType::Parallel,
        };
        let worker_group = match schedule.and_then(|s| s.worker_group.as_deref()) {
            Some(g) if g != "default" => g.to_string(),
            _ => crate::spec::DEFAULT_WORKER_GROUP.to_string(),
        };
        let release = match wf.release.as_deref() {
            Some("ONLINE") => Release::Online,
            Some(_) => Release::Offline,
            None => {
                self.entry(
                    EntryKind::Default,
                    None,
                    "a 1.3 export does not carry the release state: offline taken, as DolphinScheduler's own import does".into(),
                );
                Release::Offline
            }
        };
        let schedule = schedule.map(|s| {
            let timezone = match &s.timezone {
                Some(tz) => tz.clone(),
                None => {
                    self.entry(
                        EntryKind::Default,
                        None,
                        "the schedule names no time zone: UTC taken (DolphinScheduler 1.3 used its server's zone)".into(),
                    );
                    crate::spec::DEFAULT_TIMEZONE.to_string()
                }
            };
            if !s.online {
                self.entry(
                    EntryKind::Default,
                    None,
                    "the schedule was offline: imported with enabled: false".into(),
                );
            }
            ScheduleSpec {
                cron: s.crontab.clone(),
                timezone,
                start: s.start.clone(),
                end: s.end.clone(),
                misfire: Default::default(),
                enabled: s.online,
            }
        });
        let warning = wf.warning_group_id.or(wf.schedule.as_ref().and_then(|s| {
            s.warning_group_id
                .filter(|id| *id > 0)
                .filter(|_| s.warning_type.as_deref().is_some_and(|t| t != "NONE"))
        }));
        if let Some(id) = warning {
            self.entry(
                EntryKind::ToDo,
                None,
                format!(
                    "alerts went to DolphinScheduler alert group id {id}: define a pgdag alert group and set `notify`"
                ),
            );
        }
        if let Some(tenant) = &wf.tenant {
            self.entry(
                EntryKind::ToDo,
                None,
                format!("ran as DolphinScheduler {tenant}: pgdag tasks run as the worker's user"),
            );
        }
        if !task_notes.is_empty() || !provenance.is_empty() {
            provenance.extend(task_notes);
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(&provenance.join("\n"));
        }
        if self.problems.len() > before {
            return None;
        }
        let tasks = topological(specs);
        Some(WorkflowSpec {
            project: self.target.project.clone(),
            name: self.target.name.clone(),
            description,
            params,
            failure_strategy,
            priority,
            execution,
            worker_group,
            timeout: (wf.timeout_minutes > 0).then(|| minutes(wf.timeout_minutes)),
            max_active_runs: None,
            sla: None,
            notify: None,
            retention: None,
            release,
            schedule,
            tenant: None,
            env: Default::default(),
            triggers: Vec::new(),
            tasks,
            source: Default::default(),
        })
    }

    /// The task, and a helper task when a root task had a delay.
    fn task(
        &mut self,
        task: &DsTask,
        name: &str,
        preds: &[String],
    ) -> Option<(TaskSpec, Option<TaskSpec>)> {
        let mut cx = TaskCx {
            file: &self.loaded.file,
            project: &self.target.project,
            forced_project: self.options.project.as_deref(),
            keys: &self.target.tasks_by_key,
            preds: preds.to_vec(),
            index: self.index,
            notes: Vec::new(),
            datasources: Vec::new(),
        };
        let mut converted = tasks::convert(&mut cx, task);
        let (notes, used) = (cx.notes, cx.datasources);
        // One datasource name, one type: the first task that names it decides.
        let conflicts: Vec<Issue> = used
            .iter()
            .filter_map(|(ds, db_type, _)| {
                let key = (self.target.project.clone(), ds.clone());
                match self.datasources.get(&key) {
                    Some((other, _, file)) if other != db_type => Some(Issue {
                        field: "datasource".into(),
                        message: format!(
                            "datasource {ds} is {db_type} here but {other} in {file}; pgdag gives a datasource one type"
                        ),
                    }),
                    _ => None,
                }
            })
            .collect();
        if !conflicts.is_empty() {
            converted = match converted {
                Ok(_) => Err(conflicts),
                Err(mut issues) => {
                    issues.extend(conflicts);
                    Err(issues)
                }
            };
        }
        let (kind, params, failing) = match converted {
            Ok((kind, params)) => {
                for (kind, text) in notes {
                    self.entry(kind, Some(name), text);
                }
                for (ds, db_type, origin) in used {
                    self.datasource(ds, db_type, origin);
                }
                (kind, params, false)
            }
            Err(issues) if self.options.allow_unsupported => {
                for i in &issues {
                    self.entry(
                        EntryKind::Unsupported,
                        Some(name),
                        format!(
                            "{} task, {}: {} (now a shell task that fails)",
                            task.task_type, i.field, i.message
                        ),
                    );
                }
                (failing_shell(task, &issues), ParamMap::new(), true)
            }
            Err(issues) => {
                for i in issues {
                    self.problem(Some(&task.name), Some(&i.field), i.message);
                }
                return None;
            }
        };
        let master_side = matches!(
            kind,
            TaskKind::SubProcess(_)
                | TaskKind::Dependent(_)
                | TaskKind::Conditions(_)
                | TaskKind::Switch(_)
                | TaskKind::Empty
        );
        let mut retries = task.retries.clamp(0, crate::spec::MAX_RETRIES as i64) as u32;
        if task.retries > crate::spec::MAX_RETRIES as i64 {
            self.entry(
                EntryKind::Default,
                Some(name),
                format!(
                    "{} retries cut to pgdag's limit of {}",
                    task.retries,
                    crate::spec::MAX_RETRIES
                ),
            );
        }
        let mut timeout = task.timeout.as_ref().and_then(|(m, strategy)| {
            (*m > 0).then(|| TaskTimeout {
                after: minutes(*m),
                strategy: match strategy.as_str() {
                    "WARN" => TimeoutStrategy::Warn,
                    "WARNFAILED" => TimeoutStrategy::WarnAndFail,
                    _ => TimeoutStrategy::Fail,
                },
            })
        });
        if failing {
            retries = 0;
        }
        if master_side || failing {
            if retries > 0 {
                self.entry(
                    EntryKind::Default,
                    Some(name),
                    format!(
                        "{retries} retries dropped: pgdag does not retry {} tasks",
                        kind.task_type()
                    ),
                );
                retries = 0;
            }
            if timeout.is_some() && !matches!(kind, TaskKind::Dependent(_)) {
                self.entry(
                    EntryKind::Default,
                    Some(name),
                    format!(
                        "the task timeout was dropped: pgdag does not time out {} tasks",
                        kind.task_type()
                    ),
                );
            }
            timeout = None;
        }
        let task_priority = task.priority.as_deref().and_then(priority);
        let workflow_priority = self
            .loaded
            .wf
            .schedule
            .as_ref()
            .and_then(|s| s.priority.as_deref())
            .and_then(priority)
            .unwrap_or_default();
        let task_group = (task.task_group_id > 0).then(|| {
            let group = format!("ds_task_group_{}", task.task_group_id);
            self.entry(
                EntryKind::ToDo,
                Some(name),
                format!(
                    "used DolphinScheduler task group id {}: create task group {group} (kind: task_group) with its size",
                    task.task_group_id
                ),
            );
            if task.task_group_priority != 0 {
                self.entry(
                    EntryKind::Default,
                    Some(name),
                    "the task group priority is not carried (pgdag queues a group's tasks by task priority)".into(),
                );
            }
            group
        });
        let delay = (task.delay > 0).then(|| minutes(task.delay));
        let mut helper = None;
        let depends_on: Vec<DependsOn> = if preds.is_empty() {
            match delay {
                Some(d) => {
                    let helper_name = self
                        .scope
                        .add(&format!("{}\u{0}delay", task.key), &format!("{name}_delay"));
                    self.entry(
                        EntryKind::Default,
                        Some(name),
                        format!(
                            "its delay of {}m runs after an empty task {helper_name} (pgdag puts delays on relations)",
                            task.delay
                        ),
                    );
                    helper = Some(TaskSpec {
                        name: helper_name.clone(),
                        kind: TaskKind::Empty,
                        depends_on: Vec::new(),
                        params: ParamMap::new(),
                        priority: None,
                        worker_group: None,
                        task_group: None,
                        retries: 0,
                        retry_interval: None,
                        retry_backoff: Default::default(),
                        retry_max_interval: None,
                        timeout: None,
                        run: true,
                        on_worker_loss: Default::default(),
                        env: Default::default(),
                        foreach: None,
                        max_parallel: None,
                        line: 0,
                        source: Default::default(),
                    });
                    vec![DependsOn {
                        task: helper_name,
                        on: Condition::Success,
                        delay: Some(d),
                    }]
                }
                None => Vec::new(),
            }
        } else {
            preds
                .iter()
                .filter_map(|k| self.target.tasks_by_key.get(k))
                .map(|pre| DependsOn {
                    task: pre.clone(),
                    on: Condition::Success,
                    delay,
                })
                .collect()
        };
        let spec = TaskSpec {
            name: name.to_string(),
            kind,
            depends_on,
            params,
            priority: task_priority.filter(|p| *p != workflow_priority),
            worker_group: task.worker_group.clone().filter(|g| g != "default"),
            task_group,
            retries,
            retry_interval: (retries > 0).then(|| minutes(task.retry_interval.max(0))),
            retry_backoff: Default::default(),
            retry_max_interval: None,
            timeout,
            run: task.run,
            on_worker_loss: Default::default(),
            env: Default::default(),
            foreach: None,
            max_parallel: None,
            line: 0,
            source: Default::default(),
        };
        Some((spec, helper))
    }

    fn datasource(&mut self, name: String, db_type: DatasourceType, origin: String) {
        let key = (self.target.project.clone(), name.clone());
        if self.datasources.contains_key(&key) {
            return;
        }
        self.entry(
            EntryKind::ToDo,
            None,
            format!(
                "datasource {}/{name} ({origin}): complete its url and password in the datasource document",
                self.target.project
            ),
        );
        self.datasources
            .insert(key, (db_type, origin, self.loaded.file.clone()));
    }
}

fn minutes(m: i64) -> Duration {
    Duration::from_secs(m.max(0) as u64 * 60)
}

fn priority(text: &str) -> Option<Priority> {
    text.to_ascii_lowercase().parse().ok()
}

/// A shell task that fails with what to port, for a task pgdag cannot carry.
fn failing_shell(task: &DsTask, issues: &[Issue]) -> TaskKind {
    let what: Vec<String> = issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect();
    let message = format!(
        "pgdag import: DolphinScheduler {} task {:?} was not converted; port it by hand. {}",
        if task.task_type.is_empty() {
            "untyped"
        } else {
            &task.task_type
        },
        task.name,
        what.join("; ")
    );
    // No `$` (pgdag would expand `${...}` before bash runs), no control characters; single
    // quotes for bash.
    let clean: String = message
        .chars()
        .filter(|c| *c != '$' && !c.is_control())
        .collect();
    let quoted = format!("'{}'", clean.replace('\'', r"'\''"));
    TaskKind::Shell(ScriptTask {
        script: format!("echo {quoted} >&2\nexit 1\n"),
    })
}

/// Tasks in dependency order (roots first), ties by name, so the YAML reads top-down and
/// is the same however the export ordered them. Tasks on a cycle keep name order at the
/// end (the check then reports the cycle).
fn topological(tasks: Vec<TaskSpec>) -> Vec<TaskSpec> {
    let names: BTreeSet<String> = tasks.iter().map(|t| t.name.clone()).collect();
    let mut by_name: BTreeMap<String, TaskSpec> =
        tasks.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut indegree: BTreeMap<String, usize> = BTreeMap::new();
    let mut successors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, t) in &by_name {
        let deps: BTreeSet<&str> = t
            .depends_on
            .iter()
            .map(|d| d.task.as_str())
            .filter(|d| names.contains(*d))
            .collect();
        indegree.insert(name.clone(), deps.len());
        for d in deps {
            successors
                .entry(d.to_string())
                .or_default()
                .push(name.clone());
        }
    }
    let mut ready: BTreeSet<String> = indegree
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Vec::with_capacity(by_name.len());
    while let Some(next) = ready.pop_first() {
        for s in successors.get(&next).cloned().unwrap_or_default() {
            if let Some(n) = indegree.get_mut(&s) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    ready.insert(s);
                }
            }
        }
        if let Some(t) = by_name.remove(&next) {
            out.push(t);
        }
    }
    out.extend(by_name.into_values());
    out
}
