//! Reading task output. Workers write it through `queue::flush`.

use super::db::{Conn, query};
use super::{Result, StoreError};
use crate::model::TaskState;

#[derive(Debug, Clone, serde::Serialize)]
pub struct LogPage {
    pub text: String,
    pub next_seq: i32,
    /// The task is in a final state and every chunk up to it has been returned.
    pub finished: bool,
}

pub const DEFAULT_PAGE_CHUNKS: i64 = 1000;

/// Chunks with `seq >= after` (the beginning when `after` is 0).
pub async fn read(
    client: &impl Conn,
    task_instance_id: i64,
    after: i32,
    max_chunks: i64,
) -> Result<LogPage> {
    // Read the state first: chunks written before a final state are then all visible.
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
        finished,
    })
}
