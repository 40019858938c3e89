//! The types the master carries out inside its evaluation transaction, holding no worker
//! slot: `empty` (done at once), `conditions` and `switch` (choose which successors run;
//! the others are skipped), `sub_process` (runs a child instance and ends with its state)
//! and `dependent` (waits for other workflows' instances in a date window). Their run logic
//! lives in `master::master_tasks`; here are their checks.

use super::{Problem, Side, TaskPlugin};
use crate::model::TaskType;
use crate::spec::{TaskKind, TaskSpec, WorkflowSpec, split_workflow_ref};

pub struct Empty;
pub struct Conditions;
pub struct Switch;
pub struct SubProcess;
pub struct Dependent;

/// Keys that have no meaning for a task the master decides.
pub fn common_problems(task: &TaskSpec) -> Vec<Problem> {
    let ty = task.task_type();
    let mut out = Vec::new();
    if task.retries > 0 {
        out.push(Problem::new(
            "retries",
            format!(
                "retries do not apply to {ty} tasks (the master decides them, nothing is retried)"
            ),
        ));
    }
    if task.timeout.is_some() {
        let hint = if ty == TaskType::Dependent {
            " (use wait_limit)"
        } else {
            ""
        };
        out.push(Problem::new(
            "timeout",
            format!("timeout does not apply to {ty} tasks{hint}"),
        ));
    }
    out
}

impl TaskPlugin for Empty {
    fn task_type(&self) -> TaskType {
        TaskType::Empty
    }
    fn side(&self) -> Side {
        Side::Master
    }
}

impl TaskPlugin for Conditions {
    fn task_type(&self) -> TaskType {
        TaskType::Conditions
    }
    fn side(&self) -> Side {
        Side::Master
    }
}

impl TaskPlugin for Switch {
    fn task_type(&self) -> TaskType {
        TaskType::Switch
    }
    fn side(&self) -> Side {
        Side::Master
    }
    fn validate(&self, task: &TaskSpec, _workflow: &WorkflowSpec) -> Vec<Problem> {
        let TaskKind::Switch(switch) = &task.kind else {
            return Vec::new();
        };
        switch
            .cases
            .iter()
            .enumerate()
            .filter_map(|(i, case)| {
                crate::params::expr::parse(&case.when).err().map(|e| {
                    Problem::new(
                        "cases",
                        format!("case {} `when: {}`: {e}", i + 1, case.when),
                    )
                })
            })
            .collect()
    }
}

impl TaskPlugin for SubProcess {
    fn task_type(&self) -> TaskType {
        TaskType::SubProcess
    }
    fn side(&self) -> Side {
        Side::Master
    }
    fn validate(&self, task: &TaskSpec, workflow: &WorkflowSpec) -> Vec<Problem> {
        let TaskKind::SubProcess(sub) = &task.kind else {
            return Vec::new();
        };
        let (project, name) = split_workflow_ref(&sub.workflow);
        if project.unwrap_or(&workflow.project) == workflow.project && name == workflow.name {
            return vec![Problem::new(
                "workflow",
                "a workflow cannot run itself as a sub_process",
            )];
        }
        Vec::new()
    }
}

impl TaskPlugin for Dependent {
    fn task_type(&self) -> TaskType {
        TaskType::Dependent
    }
    fn side(&self) -> Side {
        Side::Master
    }
}
