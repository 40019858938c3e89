//! The kill watch: kills the attempts whose kill the master requested (failure strategy
//! `end`, a stop). Owns nothing in the database; reads the kill requests of the attempts
//! this process holds. Woken by `pgdag_control`, and polled while anything runs in case a
//! notification was lost. With nothing running there is nothing to kill, so an idle worker
//! asks nothing.

use std::time::Duration;

use super::Running;
use crate::cluster::Membership;
use crate::service::{Next, Round};
use crate::store::{Result, Store, queue};

/// How often the kill requests are read while attempts run, if no notification came.
pub const DEFAULT_KILL_POLL: Duration = Duration::from_secs(2);

pub(super) struct KillWatch {
    pub store: Store,
    pub membership: Membership,
    pub running: Running,
}

impl Round for KillWatch {
    async fn round(&mut self) -> Result<Next> {
        if self.running.lock().expect("running lock").is_empty() {
            return Ok(Next::Idle);
        }
        let client = self.store.client().await?;
        let requests = queue::kill_requests(&client, self.membership.server_id()).await?;
        let running = self.running.lock().expect("running lock");
        for (id, token) in requests {
            if let Some((held, stop)) = running.get(&id)
                && *held == token
            {
                stop.kill.cancel();
            }
        }
        Ok(Next::Idle)
    }
}
