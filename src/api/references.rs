//! References from a workflow into other projects, held to the caller's membership.
//!
//! A `sub_process` task starts another workflow with this one's parameters and brings its
//! out params back; a `dependent` task reads other workflows' instance states; a trigger
//! (`triggers: [{after: P/W}]`) reads the out params of another workflow's runs. Through REST
//! and the web admin, both stay inside what the person who applies the definition, or who
//! starts a run of it, may touch: a `sub_process` target in another project needs `write`
//! there, a `dependent` item or a trigger's `after` in another project `read`. They are checked when a definition
//! is applied (or an old version switched back to) and again when a run is started, since
//! memberships change.
//!
//! A refusal names the task and the project and says the same whether or not the project,
//! or a workflow in it, exists: nobody learns what a project they cannot read holds. The CLI
//! and the SQL API act with database access and are trusted (docs/security.md).

use crate::api::auth::{Principal, forbidden};
use crate::api::error::ApiError;
use crate::spec::{DependentEntry, TaskKind, WorkflowSpec, split_workflow_ref};
use crate::store::db::Conn;
use crate::store::members::{self, Access};

/// One reference from a task (or a trigger) into another project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where it is written: `task NAME` or `triggers[i]`.
    pub place: String,
    pub project: String,
    pub needed: Access,
    /// `sub_process`, `dependent` or `trigger`.
    pub kind: &'static str,
}

/// The references of `spec` into projects other than its own.
pub fn foreign_references(spec: &WorkflowSpec) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut add = |place: String, target: &str, needed: Access, kind: &'static str| {
        if let (Some(project), _) = split_workflow_ref(target)
            && project != spec.project
        {
            out.push(Reference {
                place,
                project: project.to_string(),
                needed,
                kind,
            });
        }
    };
    for task in &spec.tasks {
        match &task.kind {
            TaskKind::SubProcess(sub) => add(
                format!("task {}", task.name),
                &sub.workflow,
                Access::Write,
                "sub_process",
            ),
            TaskKind::Dependent(dep) => {
                for entry in &dep.items {
                    match entry {
                        DependentEntry::Item(item) => add(
                            format!("task {}", task.name),
                            &item.workflow,
                            Access::Read,
                            "dependent",
                        ),
                        DependentEntry::Group { items, .. } => {
                            for item in items {
                                add(
                                    format!("task {}", task.name),
                                    &item.workflow,
                                    Access::Read,
                                    "dependent",
                                );
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (i, trigger) in spec.triggers.iter().enumerate() {
        add(
            format!("triggers[{i}]"),
            &trigger.after,
            Access::Read,
            "trigger",
        );
    }
    out
}

/// 403 unless `who` has the access each foreign reference of `specs` needs. Admins pass.
pub async fn require(
    who: &Principal,
    client: &impl Conn,
    specs: &[WorkflowSpec],
) -> Result<(), ApiError> {
    if who.user.is_admin {
        return Ok(());
    }
    for spec in specs {
        for reference in foreign_references(spec) {
            let access = members::access(client, &reference.project, who.user.id).await?;
            // A project that does not exist reads like one the caller is not a member of.
            if access.flatten().is_some_and(|a| a >= reference.needed) {
                continue;
            }
            return Err(forbidden(format!(
                "{} of {}/{}: its {} reference into project {} needs {} access there, which user {} does not have",
                reference.place,
                spec.project,
                spec.name,
                reference.kind,
                reference.project,
                reference.needed.as_str(),
                who.user.name
            )));
        }
    }
    Ok(())
}

/// As [`require`], for the current version of `project/workflow` (before a run of it
/// starts); nothing to check when it does not exist (the start says so itself).
pub async fn require_for_run(
    who: &Principal,
    client: &impl Conn,
    project: &str,
    workflow: &str,
) -> Result<(), ApiError> {
    if who.user.is_admin {
        return Ok(());
    }
    match crate::store::definitions::get_spec(client, project, workflow, None).await? {
        Some((spec, _)) => require(who, client, std::slice::from_ref(&spec)).await,
        None => Ok(()),
    }
}

/// As [`require`], for the version an existing instance runs (before it is re-run, resumed,
/// started again from its failed tasks, or one of its tasks retried): those start its
/// `sub_process` and `dependent` tasks again, under the caller's current membership.
pub async fn require_for_instance(
    who: &Principal,
    client: &impl Conn,
    instance_id: i64,
) -> Result<(), ApiError> {
    if who.user.is_admin {
        return Ok(());
    }
    let Some(instance) = crate::store::instances::get(client, instance_id).await? else {
        return Ok(());
    };
    match crate::store::definitions::get_spec(
        client,
        &instance.project,
        &instance.workflow,
        Some(instance.version),
    )
    .await?
    {
        Some((spec, _)) => require(who, client, std::slice::from_ref(&spec)).await,
        None => Ok(()),
    }
}

/// Whether a control action on an instance starts tasks again (and so needs
/// [`require_for_instance`]); pausing and stopping do not.
pub fn starts_tasks(kind: crate::model::CommandType) -> bool {
    use crate::model::CommandType as C;
    matches!(kind, C::Rerun | C::StartFailed | C::Resume | C::RetryTask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_references_into_other_projects_count() {
        let checked = crate::apply::check_documents(
            "w.yaml",
            "project: a\nname: w\ntriggers: [{ after: e/up }, { after: up2 }]\ntasks:\n  - { name: own, type: sub_process, workflow: child }\n  - { name: own2, type: sub_process, workflow: a/child }\n  - { name: pay, type: sub_process, workflow: b/payroll }\n  - name: wait\n    type: dependent\n    all:\n      - { workflow: c/load, window: today }\n      - any: [{ workflow: d/x, window: today }, { workflow: y, window: today }]\n",
        )
        .unwrap();
        let refs = foreign_references(&checked.workflows[0]);
        let seen: Vec<(&str, &str, Access)> = refs
            .iter()
            .map(|r| (r.place.as_str(), r.project.as_str(), r.needed))
            .collect();
        assert_eq!(
            seen,
            [
                ("task pay", "b", Access::Write),
                ("task wait", "c", Access::Read),
                ("task wait", "d", Access::Read),
                ("triggers[0]", "e", Access::Read)
            ]
        );
    }
}
