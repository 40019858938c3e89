//! `--priority`, `--failure-strategy`, `--worker-group` on `pgdag run` and `pgdag backfill`:
//! the per-run overrides REST's `POST .../runs` takes, checked by the same code
//! ([`crate::model::RunOverrides::from_options`]) and stored the same way (command options).

use super::CliError;
use crate::model::RunOverrides;

#[derive(clap::Args, Debug, Default, Clone)]
pub struct RunFlags {
    /// This run's priority instead of the workflow's (highest, high, medium, low, lowest).
    #[arg(long)]
    pub priority: Option<String>,
    /// This run's failure strategy instead of the workflow's (continue, end).
    #[arg(long)]
    pub failure_strategy: Option<String>,
    /// This run's worker group instead of the workflow's (tasks naming their own keep it).
    #[arg(long)]
    pub worker_group: Option<String>,
}

impl RunFlags {
    /// The overrides, checked: a bad value exits 2 naming the flag.
    pub fn overrides(&self) -> Result<RunOverrides, CliError> {
        let options = serde_json::json!({
            "priority": self.priority,
            "failure_strategy": self.failure_strategy,
            "worker_group": self.worker_group,
        });
        RunOverrides::from_options(&options).map_err(|e| {
            let e = e
                .replacen("options.failure_strategy", "--failure-strategy", 1)
                .replacen("options.worker_group", "--worker-group", 1)
                .replacen("options.priority", "--priority", 1);
            CliError::usage(e)
        })
    }
}
