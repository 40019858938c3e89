//! pgdag: a distributed workflow (DAG) scheduler in which PostgreSQL is the only
//! coordinator. See `docs/architecture.md`.

pub mod alert;
pub mod api;
pub mod apply;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod cron;
pub mod dag;
pub mod import;
pub mod logging;
pub mod master;
pub mod metrics;
pub mod model;
#[cfg(test)]
mod module_graph;
pub mod observe;
pub mod params;
pub mod secret;
pub mod server;
pub mod service;
pub mod spec;
pub mod store;
pub mod tasks;
pub mod text;
pub mod view;
pub mod worker;
