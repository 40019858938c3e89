//! The master role: turns commands into instances and advances instances.
//!
//! Stateless between transactions: everything it knows is re-read from Postgres in the
//! transaction that acts on it (the compiled-DAG cache holds immutable definition versions
//! only). Any number of masters share the work through `SKIP LOCKED`; a master that dies
//! mid-transaction leaves nothing behind but a rolled-back transaction.

pub mod commands;
pub mod compiled;
pub mod evaluator;
pub mod keeper;
pub mod mapped;
pub mod master_tasks;
pub mod start;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::Wakeups;
use crate::service::{self, Loop, Rounds};
use crate::store::Store;

/// The master's services' settings, built from `Config` by `server::ServiceConfigs`.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    pub consumer: commands::ConsumerConfig,
    pub evaluator: evaluator::EvaluatorConfig,
}

/// Start the command consumers and the evaluator; they stop when `cancel` fires.
pub fn start(
    set: &mut JoinSet<()>,
    store: Store,
    config: MasterConfig,
    wakeups: Wakeups,
    rounds: &Rounds,
    cancel: CancellationToken,
) {
    let cache = compiled::Cache::new(config.evaluator.max_map_items);
    // A few consumers share the command queue (SKIP LOCKED), so a burst of starts — many
    // schedules firing at once — is taken in parallel batches. Only the first also polls
    // (for a lost notification): it wakes the others when it finds a full batch, so an
    // idle master costs one poll, not one per consumer.
    for i in 0..config.consumer.consumers {
        let mut lp = Loop::new(crate::service::rounds::COMMANDS, cancel.clone())
            .woken_by(&wakeups.command)
            .counted(rounds);
        if i == 0 {
            lp = lp.poll(config.consumer.poll_interval);
        }
        let consumer = commands::Consumer {
            store: store.clone(),
            config: config.consumer.clone(),
            cache: cache.clone(),
            wake: wakeups.command.clone(),
            cancel: cancel.clone(),
        };
        set.spawn(service::run(consumer, lp));
    }
    // One round at start, then woken by the evaluator only: no poll, no round while
    // nothing ends.
    let keeper = keeper::Trigger::default();
    set.spawn(service::run(
        keeper::Keeper {
            store: store.clone(),
            trigger: keeper.clone(),
            seen: 0,
            last_round: None,
        },
        Loop::new(crate::service::rounds::KEEPER, cancel.clone())
            .woken_by(&keeper.wake)
            .counted(rounds),
    ));
    let lp = Loop::new(crate::service::rounds::EVALUATOR, cancel.clone())
        .poll(config.evaluator.poll_interval)
        .woken_by(&wakeups.eval)
        .counted(rounds);
    set.spawn(service::run(
        evaluator::Evaluator {
            store,
            cache,
            clock: config.evaluator.clock.clone(),
            keeper,
            wakeups,
            cancel,
        },
        lp,
    ));
}
