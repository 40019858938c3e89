//! The LISTEN connection. Owns one dedicated connection (outside the pool) that listens on
//! every pgdag channel and turns notifications into `Notify` wake-ups for the loops of this
//! process. A notification is only a hint: each loop also polls, and after every
//! (re)connect every loop is woken once, so a lost notification costs latency, never
//! correctness. On connection loss it reconnects with backoff, forever, until cancelled.
//!
//! A process whose worker writes outcomes, or whose master queues attempts, wakes its own
//! evaluator or fetcher itself once the transaction has committed ([`Wakeups::outcomes_written`],
//! [`Wakeups::attempts_queued`]), and marks the notification it sent for the other
//! processes with its own payload ([`Wakeups::own`]); this listener drops that one, so a
//! loop is not woken twice for one commit (a second claim or evaluation that finds
//! nothing). The notification's trip through the server and the listener's connection
//! is no longer on a chain's hop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::service::{Next, Round};
use crate::store::db::Session;
use crate::store::{Channel, Store, StoreError, listen};

/// One wake-up per channel. `Notify` keeps a permit, so a wake-up between two waits is
/// not lost. `rounds` goes the other way: what the woken loops have done.
#[derive(Clone)]
pub struct Wakeups {
    pub command: Arc<Notify>,
    pub task: Arc<Notify>,
    pub eval: Arc<Notify>,
    pub control: Arc<Notify>,
    pub alert: Arc<Notify>,
    pub schedule: Arc<Notify>,
    /// How many `pgdag_task` wake-ups came (a reconnect counts as one): the fetcher tells
    /// by it whether work may have been queued since a claim that found none.
    pub task_notices: Arc<AtomicU64>,
    pub rounds: super::Rounds,
    /// The payload of the `pgdag_eval` and `pgdag_task` notifications this process sends
    /// after waking its own loops: random, one per started server (a test runs several in
    /// one OS process).
    pub own: Arc<str>,
}

impl Default for Wakeups {
    fn default() -> Wakeups {
        Wakeups {
            command: Arc::default(),
            task: Arc::default(),
            eval: Arc::default(),
            control: Arc::default(),
            alert: Arc::default(),
            schedule: Arc::default(),
            task_notices: Arc::default(),
            rounds: super::Rounds::default(),
            own: format!("pgdag:{:016x}", fastrand::u64(..)).into(),
        }
    }
}

impl Wakeups {
    /// Outcomes committed by this process: its evaluator (if it has one) looks now.
    pub fn outcomes_written(&self) {
        self.eval.notify_one();
    }

    /// Attempts queued and committed by this process: its fetcher (if it has one) claims
    /// now, as if a `pgdag_task` had come.
    pub fn attempts_queued(&self) {
        self.task_notices.fetch_add(1, Ordering::SeqCst);
        self.task.notify_one();
    }

    pub fn all(&self) {
        self.command.notify_one();
        self.task_notices.fetch_add(1, Ordering::SeqCst);
        self.task.notify_one();
        self.eval.notify_one();
        self.control.notify_one();
        self.alert.notify_one();
        self.schedule.notify_one();
    }
    fn channel(&self, channel: Channel) -> &Notify {
        match channel {
            Channel::Command => &self.command,
            Channel::Task => &self.task,
            Channel::Eval => &self.eval,
            Channel::Control => &self.control,
            Channel::Alert => &self.alert,
            Channel::Schedule => &self.schedule,
        }
    }
}

/// The listener service: a round holds one LISTEN connection until it is lost (or the
/// process stops); the runner reconnects after a backoff.
pub struct Listener {
    pub store: Store,
    pub wakeups: Wakeups,
    pub cancel: CancellationToken,
}

impl Round for Listener {
    async fn round(&mut self) -> Result<Next, StoreError> {
        listen_once(&self.store, &self.wakeups, &self.cancel).await?;
        // The server closed the connection: reconnect after the shortest backoff.
        Ok(Next::In(crate::service::backoff(0)))
    }
}

async fn listen_once(
    store: &Store,
    wakeups: &Wakeups,
    cancel: &CancellationToken,
) -> Result<(), StoreError> {
    let (client, mut connection) = store.config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx
                        .send((n.channel().to_string(), n.payload().to_string()))
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "listener connection error");
                    break;
                }
            }
        }
    });
    let client = Session::new(client);
    listen(&client).await?;
    // Poll once after every (re)connect: notifications sent while we were away are gone.
    wakeups.all();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            message = rx.recv() => match message {
                Some((channel, payload)) => {
                    crate::metrics::add(&crate::metrics::NOTIFICATIONS, 1);
                    if let Some(channel) = Channel::from_name(&channel) {
                        if payload == *wakeups.own
                            && matches!(channel, Channel::Eval | Channel::Task)
                        {
                            // Sent by this process, which woke the loop itself.
                            continue;
                        }
                        if channel == Channel::Task {
                            // Counted before the wake-up: the woken round must see it.
                            wakeups.task_notices.fetch_add(1, Ordering::SeqCst);
                        }
                        wakeups.channel(channel).notify_one();
                    }
                }
                None => break,
            },
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
