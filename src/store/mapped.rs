//! Mapped tasks (`foreach:`): expanding a parent into its items, moving the parent on, and
//! dropping or reopening expansions for reruns and retries. The items themselves are
//! ordinary task instance rows, queued and completed like any other.

use super::Result;
use super::db::{Conn, query};
use crate::model::TaskState;

/// The parent `parent` becomes `running` with one pending item per element of `list`,
/// named `name[i]`, in the task group `task_group` (the spec's; the parent holds no slot).
pub async fn expand(
    client: &impl Conn,
    parent: i64,
    list: &[serde_json::Value],
    task_group: Option<&str>,
) -> Result<()> {
    let list = serde_json::Value::Array(list.to_vec());
    client
        .exec(query!("mapped/expand"), &[&parent, &list, &task_group])
        .await?;
    Ok(())
}

/// Of the mapped tasks `codes`, those with an item still active and none pending.
pub async fn busy_codes(client: &impl Conn, instance: i64, codes: &[i64]) -> Result<Vec<i64>> {
    let rows = client
        .fetch(query!("mapped/busy_codes"), &[&instance, &codes])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The list elements of the given items, by task instance id.
pub async fn values(
    client: &impl Conn,
    items: &[i64],
) -> Result<std::collections::HashMap<i64, serde_json::Value>> {
    if items.is_empty() {
        return Ok(Default::default());
    }
    let rows = client.fetch(query!("mapped/values"), &[&items]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let value: Option<serde_json::Value> = r.get(1);
            (r.get(0), value.unwrap_or(serde_json::Value::Null))
        })
        .collect())
}

/// The parent's new state, error and out params (ended now when the state is final).
pub async fn set_parent(
    client: &impl Conn,
    parent: i64,
    state: TaskState,
    error: Option<&str>,
    out_params: &serde_json::Value,
) -> Result<()> {
    client
        .exec(
            query!("mapped/set_parent"),
            &[&parent, &state.as_str(), &error, out_params],
        )
        .await?;
    Ok(())
}

/// Drop the items of the mapped tasks `codes` of the instance (all of them with `None`),
/// so those parents expand their lists again.
pub async fn forget_items(client: &impl Conn, instance: i64, codes: Option<&[i64]>) -> Result<()> {
    let codes: Option<Vec<i64>> = codes.map(<[i64]>::to_vec);
    client
        .exec(query!("mapped/forget_items"), &[&instance, &codes])
        .await?;
    Ok(())
}

/// Put the ended parent of item `item` back to `pending` (still expanded); returns the
/// parent's id when it was reopened.
pub async fn reopen_parent(client: &impl Conn, item: i64) -> Result<Option<i64>> {
    Ok(client
        .fetch_opt(query!("mapped/reopen_parent"), &[&item])
        .await?
        .map(|r| r.get(0)))
}
