//! The home page (today's counts and the last 14 days), the project list and the servers.

use super::{Ctx, render, workflow_href};
use crate::api::Reply;
use crate::api::error::ApiError;
use crate::api::pages::{
    self, HomePage, InstanceRow, ProjectRow, ProjectsPage, ServerLine, ServersPage, StateCount,
};
use crate::model::WorkflowState;
use crate::store::instances::{self, InstanceDetail, InstanceFilter};
use crate::store::{definitions, servers};
use crate::view::svg;

/// Days in the home page's chart.
const CHART_DAYS: i32 = 14;

pub(super) async fn home(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let client = ctx.client().await?;
    let viewer = ctx.who.viewer();
    let mut today: Vec<StateCount> = instances::today_by_state(&client, viewer)
        .await?
        .into_iter()
        .map(|(state, count)| StateCount { state, count })
        .collect();
    // In lifecycle order, so the cards read the same way every day.
    today.sort_by_key(|c| {
        WorkflowState::ALL
            .iter()
            .position(|s| s.as_str() == c.state)
            .unwrap_or(usize::MAX)
    });
    let days = instances::day_counts(&client, CHART_DAYS, viewer).await?;
    let chart: Vec<svg::DayCount> = days
        .into_iter()
        .map(|(day, succeeded, failed, other)| svg::DayCount {
            day,
            succeeded,
            failed,
            other,
        })
        .collect();
    let list = |state: &str| InstanceFilter {
        state: Some(state.to_string()),
        limit: 10,
        viewer,
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let recent_failures = instances::list(&client, &list("failed")).await?;
    let running = instances::list(&client, &list("running")).await?;
    render(&HomePage {
        nav: ctx.nav("home"),
        today_total: today.iter().map(|c| c.count).sum(),
        today,
        chart_svg: svg::runs_chart(&chart),
        recent_failures: recent_failures
            .iter()
            .map(|d| instance_row(d, now))
            .collect(),
        running: running.iter().map(|d| instance_row(d, now)).collect(),
    })
}

pub(crate) fn instance_row(d: &InstanceDetail, now: chrono::DateTime<chrono::Utc>) -> InstanceRow {
    InstanceRow {
        id: d.id,
        project: d.project.clone(),
        workflow: d.workflow.clone(),
        workflow_href: workflow_href(&d.project, &d.workflow),
        version: d.version,
        state: d.state.clone(),
        command_type: d.command_type.clone(),
        schedule_time: pages::time(d.schedule_time),
        started_at: pages::time(d.started_at),
        duration: pages::duration(d.started_at, d.ended_at, now),
    }
}

pub(super) async fn projects(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let client = ctx.client().await?;
    let projects = definitions::list_projects(&client, ctx.who.viewer()).await?;
    render(&ProjectsPage {
        nav: ctx.nav("projects"),
        projects: projects
            .into_iter()
            .map(|p| ProjectRow {
                name: p.name,
                description: p.description,
                workflows: p.workflows,
            })
            .collect(),
    })
}

pub(super) async fn servers(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let client = ctx.client().await?;
    let list = servers::list(&client).await?;
    render(&ServersPage {
        nav: ctx.nav("servers"),
        servers: list
            .into_iter()
            .map(|s| ServerLine {
                id: s.id,
                name: s.name,
                roles: s.roles.join(", "),
                host: s.host,
                pid: s.pid,
                leader: s.leader,
                worker_groups: s.worker_groups.join(", "),
                heartbeat_age: pages::human_ms(s.heartbeat_age_ms),
                running_tasks: s.running_tasks,
                slots: s.max_tasks.map(|m| format!(" / {m}")).unwrap_or_default(),
                load: format!("{:.2}", s.load_avg),
                started_at: pages::time(Some(s.started_at)),
                version: s.version,
            })
            .collect(),
    })
}
