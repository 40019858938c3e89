//! Integration tests against a real Postgres (127.0.0.1:5432, or PGDAG_TEST_ADMIN_URL).
//! Each test gets its own database cloned from a migrated template and drops it at the end.

mod alerts;
mod api;
mod audit;
mod backfill;
mod bigdag;
mod browser;
mod cli;
mod cli_ops;
mod control;
mod daily_ops;
mod engine;
mod execution;
mod fakes;
mod harness;
mod import;
mod mapped;
mod observability;
mod openapi;
mod project_values;
mod queries;
mod retention;
mod tasks;
mod triggers;
mod ui;
mod webdriver;
mod workers;
