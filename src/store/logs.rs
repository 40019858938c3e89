//! Reading task output. Workers write it through `queue::flush`.

use super::db::{Conn, query};
use super::{Result, StoreError};
use crate::model::TaskState;

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogPage {
    pub text: String,
    pub next_seq: i32,
    /// The sequence number of the page's first chunk: `before=` for the part before it.
    /// Only in a tail page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<i32>,
    /// The task is in a final state and every chunk up to it has been returned.
    pub finished: bool,
}

pub const DEFAULT_PAGE_CHUNKS: i64 = 1000;

/// A tail page (`read_tail`) ends at about this many bytes, whatever its chunk count.
pub const TAIL_PAGE_BYTES: i64 = 1024 * 1024;

/// Chunks with `seq >= after` (the beginning when `after` is 0).
pub async fn read(
    client: &impl Conn,
    task_instance_id: i64,
    after: i32,
    max_chunks: i64,
) -> Result<LogPage> {
    // Read the state first: chunks written before a final state are then all visible.
    let state = task_state(client, task_instance_id).await?;
    let rows = client
        .fetch(
            query!("logs/read"),
            &[&task_instance_id, &after, &max_chunks],
        )
        .await?;
    let mut text = String::new();
    let mut next_seq = after;
    for row in &rows {
        let seq: i32 = row.get(0);
        text.push_str(row.get::<_, &str>(1));
        next_seq = seq + 1;
    }
    let finished = state.is_final() && (rows.len() as i64) < max_chunks;
    Ok(LogPage {
        text,
        next_seq,
        first_seq: None,
        finished,
    })
}

/// The last `max_chunks` chunks with `seq < before` (the end of the log when `before` is
/// `None`), fewer when they hold more than [`TAIL_PAGE_BYTES`]: a huge log's page shows its
/// end, and `first_seq` fetches what precedes it.
pub async fn read_tail(
    client: &impl Conn,
    task_instance_id: i64,
    before: Option<i32>,
    max_chunks: i64,
) -> Result<LogPage> {
    let state = task_state(client, task_instance_id).await?;
    let rows = client
        .fetch(
            query!("logs/read_tail"),
            &[
                &task_instance_id,
                &before.unwrap_or(i32::MAX),
                &max_chunks,
                &TAIL_PAGE_BYTES,
            ],
        )
        .await?;
    let mut text = String::new();
    let first_seq = rows
        .first()
        .map(|r| r.get::<_, i32>(0))
        .or(before)
        .unwrap_or(0);
    let mut next_seq = first_seq;
    for row in &rows {
        text.push_str(row.get::<_, &str>(1));
        next_seq = row.get::<_, i32>(0) + 1;
    }
    Ok(LogPage {
        text,
        next_seq,
        first_seq: Some(first_seq),
        // The end was read (no `before`) of a task that writes no more.
        finished: state.is_final() && before.is_none(),
    })
}

/// The whole log as it is now, in pages of `page_chunks` chunks sent in order: a download
/// holds one page at a time, however long the log. Reading stops at the first empty page,
/// at an error (sent last), or when the receiver is dropped (the client went away).
pub fn stream_pages<C: Conn + Send + 'static>(
    client: C,
    task_instance_id: i64,
    page_chunks: i64,
) -> tokio::sync::mpsc::Receiver<Result<String>> {
    // Two pages in flight: the next is read while the last is written to the socket.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        let mut after = 0;
        loop {
            let page = read(&client, task_instance_id, after, page_chunks).await;
            let next = match &page {
                Ok(page) if page.next_seq != after => Some(page.next_seq),
                _ => None,
            };
            let text = page.map(|p| p.text);
            let empty = text.as_ref().is_ok_and(|t| t.is_empty());
            if !empty && tx.send(text).await.is_err() {
                return;
            }
            match next {
                Some(next) => after = next,
                None => return,
            }
        }
    });
    rx
}

async fn task_state(client: &impl Conn, task_instance_id: i64) -> Result<TaskState> {
    let state = client
        .fetch_opt(query!("logs/task_state"), &[&task_instance_id])
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("task instance {task_instance_id} does not exist"))
        })?;
    let state: TaskState = state
        .get::<_, String>(0)
        .parse()
        .map_err(|e: crate::model::ParseEnumError| StoreError::Invalid(e.to_string()))?;
    Ok(state)
}
