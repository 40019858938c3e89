//! The master role: turns commands into instances and advances instances.
//!
//! Stateless between transactions: everything it knows is re-read from Postgres in the
//! transaction that acts on it (the compiled-DAG cache holds immutable definition versions
//! only). Any number of masters share the work through `SKIP LOCKED`; a master that dies
//! mid-transaction leaves nothing behind but a rolled-back transaction.

pub mod commands;
pub mod compiled;
pub mod evaluator;
pub mod master_tasks;
pub mod start;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::Wakeups;
use crate::config::Config;
use crate::store::Store;

/// Command consumers per master.
const COMMAND_CONSUMERS: usize = 3;

/// Start the command consumers and the evaluator; they stop when `cancel` fires.
pub fn start(
    set: &mut JoinSet<()>,
    store: Store,
    config: Config,
    wakeups: Wakeups,
    cancel: CancellationToken,
) {
    let cache = compiled::Cache::default();
    // A few consumers share the command queue (SKIP LOCKED), so a burst of starts — many
    // schedules firing at once — is taken in parallel batches. Only the first also polls
    // (for a lost notification): it wakes the others when it finds a full batch, so an
    // idle master costs one poll, not one per consumer.
    for i in 0..COMMAND_CONSUMERS {
        set.spawn(commands::run(
            store.clone(),
            config.clone(),
            wakeups.clone(),
            cache.clone(),
            i == 0,
            cancel.clone(),
        ));
    }
    set.spawn(evaluator::run(store, config, wakeups, cache, cancel));
}
