//! `sql`: one statement on a datasource, between optional `pre` and `post` statements, all in
//! one transaction (a failure anywhere rolls everything back and fails the task with the
//! server's message). `kind: query` keeps up to `max_rows` rows with the task instance, shows
//! them in the log and can set out params; `kind: statement` records the rows affected.
//! `bind` values go to `$n` (Postgres) or `?` (MySQL) placeholders as parameters; `${...}`
//! inside the SQL text is plain text substitution.

use futures_util::future::BoxFuture;
use futures_util::{StreamExt, pin_mut};
use mysql_async::prelude::Queryable;
use serde_json::{Value, json};

use super::datasource::{self, AnyText, Connection, TextParam, pg_error};
use super::{Outcome, Problem, RunContext, Side, TaskPlugin};
use crate::model::TaskType;
use crate::params::ParamMap;
use crate::spec::{SqlKind, SqlTask, TaskKind, TaskSpec, WorkflowSpec};

pub struct Sql;

impl TaskPlugin for Sql {
    fn task_type(&self) -> TaskType {
        TaskType::Sql
    }
    fn side(&self) -> Side {
        Side::Worker
    }
    fn expanded_keys(&self) -> &'static [&'static str] {
        &["sql", "bind", "pre", "post"]
    }
    fn validate(&self, task: &TaskSpec, _workflow: &WorkflowSpec) -> Vec<Problem> {
        let TaskKind::Sql(sql) = &task.kind else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        if sql.kind == SqlKind::Statement && (!sql.out.is_empty() || sql.out_rows.is_some()) {
            problems.push(Problem::new(
                "out",
                "out params come from rows: they need `kind: query`",
            ));
        }
        problems
    }
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(run(ctx))
    }
}

/// What the statement gave.
#[derive(Debug, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows came than were kept.
    pub truncated: bool,
}

enum Executed {
    Rows(Table),
    Affected(u64),
}

async fn run(ctx: &RunContext) -> Result<Outcome, String> {
    let TaskKind::Sql(sql) = ctx.kind()? else {
        return Err("not a sql task".into());
    };
    let max_rows = sql.max_rows as usize;
    let connection = datasource::connect(ctx, &sql.datasource).await?;
    ctx.log(format!(
        "[pgdag] sql on datasource {}:\n{}\n",
        sql.datasource,
        sql.sql.trim_end()
    ));
    if !sql.bind.is_empty() {
        ctx.log(format!("[pgdag] bound values: {:?}\n", sql.bind));
    }
    let executed = match connection {
        Connection::Postgres { client, tls } => {
            let token = client.cancel_token();
            let done = tokio::select! {
                r = postgres(&client, &sql, max_rows) => Some(r),
                _ = ctx.cancel.cancelled() => None,
            };
            match done {
                Some(r) => r?,
                None => {
                    let _ = token.cancel_query(tls).await;
                    datasource::discard(client);
                    return Err("cancelled".into());
                }
            }
        }
        Connection::Mysql(mut conn) => {
            tokio::select! {
                r = mysql(&mut conn, &sql, max_rows) => r?,
                _ = ctx.cancel.cancelled() => return Err("cancelled".into()),
            }
        }
    };
    let mut outcome = Outcome::success();
    match executed {
        Executed::Affected(n) => {
            ctx.log(format!("[pgdag] {n} rows affected\n"));
            outcome.result = Some(json!({ "rows_affected": n }));
        }
        Executed::Rows(table) => {
            let shown: Vec<Vec<String>> = table
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| c.clone().unwrap_or_else(|| "NULL".into()))
                        .collect()
                })
                .collect();
            if !table.columns.is_empty() {
                ctx.log(crate::text::format_table(&table.columns, &shown));
            }
            ctx.log(format!(
                "[pgdag] {} row{}{}\n",
                table.rows.len(),
                if table.rows.len() == 1 { "" } else { "s" },
                if table.truncated {
                    format!(" kept (more were returned; max_rows is {max_rows})")
                } else {
                    String::new()
                }
            ));
            outcome.out_params = out_params(&sql, &table)?;
            for (name, value) in &outcome.out_params {
                ctx.log(format!("[pgdag] out param {name} = {value}\n"));
            }
            outcome.result = Some(json!({
                "columns": table.columns,
                "rows": table.rows,
                "truncated": table.truncated,
            }));
        }
    }
    Ok(outcome)
}

/// `out: [columns]`: one row gives each column's value, other counts a JSON list of the
/// column's values; `out_rows: name`: the rows as a JSON list of objects.
pub fn out_params(sql: &SqlTask, table: &Table) -> Result<ParamMap, String> {
    let mut out = ParamMap::new();
    for name in &sql.out {
        let Some(col) = table.columns.iter().position(|c| c == name) else {
            return Err(format!(
                "out param {name}: the result has no column {name} (columns: {})",
                table.columns.join(", ")
            ));
        };
        let value = if table.rows.len() == 1 {
            table.rows[0][col].clone().unwrap_or_default()
        } else {
            Value::Array(
                table
                    .rows
                    .iter()
                    .map(|r| r[col].clone().map_or(Value::Null, Value::String))
                    .collect(),
            )
            .to_string()
        };
        out.insert(name.clone(), value);
    }
    if let Some(name) = &sql.out_rows {
        let rows: Vec<Value> = table
            .rows
            .iter()
            .map(|r| {
                let object: serde_json::Map<String, Value> = table
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| (c.clone(), v.clone().map_or(Value::Null, Value::String)))
                    .collect();
                Value::Object(object)
            })
            .collect();
        out.insert(name.clone(), Value::Array(rows).to_string());
    }
    Ok(out)
}

/// What a pooled Postgres connection is cleaned with before an attempt uses it, so that
/// what one attempt set on its session (`SET` without `LOCAL`, temporary tables, advisory
/// locks, prepared statements) does not reach the next. Sent in the same round trip as the
/// attempt's first statements, not as a round trip of its own when the pool hands it out.
pub const SESSION_RESET: &str = "DISCARD ALL";

/// The statement between `BEGIN` (after the session reset) and `COMMIT`, pipelined: without
/// `bind` values the whole attempt is one round trip (the statement is parsed, bound and
/// run as the unnamed statement); with them, a second round trip carries the values once
/// `prepare` has told their types. Every message is awaited whatever fails, so the
/// connection goes back to the pool idle: a `COMMIT` after a failure rolls back. A
/// statement without `pre` or `post` is a transaction of its own (autocommit): it is sent
/// without `BEGIN` and `COMMIT`, two statements fewer per attempt, and statements that
/// refuse a transaction block (`VACUUM`, `CREATE INDEX CONCURRENTLY`) can run.
async fn postgres(
    client: &tokio_postgres::Client,
    sql: &SqlTask,
    max_rows: usize,
) -> Result<Executed, String> {
    let block = !(sql.pre.is_empty() && sql.post.is_empty());
    let opening = async {
        let reset = client.batch_execute(SESSION_RESET);
        let begin = async {
            if block {
                client.batch_execute("BEGIN").await
            } else {
                Ok(())
            }
        };
        let pre = futures_util::future::join_all(sql.pre.iter().map(|s| client.batch_execute(s)));
        let (reset, begin, pre) = tokio::join!(reset, begin, pre);
        reset.map_err(|e| format!("cleaning the pooled connection: {}", pg_error(&e)))?;
        begin.map_err(|e| pg_error(&e))?;
        for (i, r) in pre.into_iter().enumerate() {
            r.map_err(|e| format!("pre statement {}: {}", i + 1, pg_error(&e)))?;
        }
        Ok::<_, String>(())
    };
    if sql.bind.is_empty() {
        // Sent in this order on first poll; one round trip for all of it.
        let body = run_statement(client, sql, None, max_rows);
        let post = futures_util::future::join_all(sql.post.iter().map(|s| client.batch_execute(s)));
        let commit = commit(client, block);
        let (opened, executed, post, commit) = tokio::join!(opening, body, post, commit);
        opened?;
        let mut executed = executed?;
        for (i, r) in post.into_iter().enumerate() {
            r.map_err(|e| format!("post statement {}: {}", i + 1, pg_error(&e)))?;
        }
        commit.map_err(|e| pg_error(&e))?;
        if let Executed::Rows(table) = &mut executed
            && table.columns.is_empty()
        {
            // No row came to name the columns: ask for them (empty results only).
            if let Ok(statement) = client.prepare(&sql.sql).await {
                table.columns = column_names(&statement);
            }
        }
        return Ok(executed);
    }
    let prepare = client.prepare(&sql.sql);
    let (opened, statement) = tokio::join!(opening, prepare);
    let statement = match (opened, statement.map_err(|e| pg_error(&e))) {
        (Ok(()), Ok(statement)) if statement.params().len() == sql.bind.len() => statement,
        (opened, statement) => {
            if block {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            opened?;
            let statement = statement?;
            return Err(format!(
                "the SQL has {} placeholder(s) ($1, $2...) but bind gives {} value(s)",
                statement.params().len(),
                sql.bind.len()
            ));
        }
    };
    let body = run_statement(client, sql, Some(&statement), max_rows);
    let post = futures_util::future::join_all(sql.post.iter().map(|s| client.batch_execute(s)));
    let commit = commit(client, block);
    let (executed, post, commit) = tokio::join!(body, post, commit);
    let executed = executed?;
    for (i, r) in post.into_iter().enumerate() {
        r.map_err(|e| format!("post statement {}: {}", i + 1, pg_error(&e)))?;
    }
    commit.map_err(|e| pg_error(&e))?;
    Ok(executed)
}

/// `COMMIT` of the block, if there is one.
async fn commit(client: &tokio_postgres::Client, block: bool) -> Result<(), tokio_postgres::Error> {
    if block {
        client.batch_execute("COMMIT").await
    } else {
        Ok(())
    }
}

fn column_names(statement: &tokio_postgres::Statement) -> Vec<String> {
    statement
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect()
}

/// The task's statement: prepared (with `bind` values) or sent whole as the unnamed
/// statement; its rows (up to `max_rows`) or the rows it affected.
async fn run_statement(
    client: &tokio_postgres::Client,
    sql: &SqlTask,
    statement: Option<&tokio_postgres::Statement>,
    max_rows: usize,
) -> Result<Executed, String> {
    let stream = match statement {
        Some(statement) => {
            let params: Vec<TextParam> = sql.bind.iter().map(|v| TextParam(v)).collect();
            client.query_raw(statement, params.iter()).await
        }
        None => {
            client
                .query_typed_raw(
                    &sql.sql,
                    std::iter::empty::<(&str, tokio_postgres::types::Type)>(),
                )
                .await
        }
    }
    .map_err(|e| pg_error(&e))?;
    pin_mut!(stream);
    let mut table = Table {
        columns: statement.map(column_names).unwrap_or_default(),
        ..Table::default()
    };
    while let Some(row) = stream.next().await {
        let row = row.map_err(|e| pg_error(&e))?;
        if table.columns.is_empty() {
            table.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
        }
        if sql.kind == SqlKind::Statement {
            continue; // a statement's rows (`returning`) are read and dropped
        }
        if table.rows.len() == max_rows {
            table.truncated = true;
            continue; // read to the end: the statement must complete
        }
        let mut cells = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            let AnyText(value) = row.try_get(i).map_err(|e| pg_error(&e))?;
            cells.push(value);
        }
        table.rows.push(cells);
    }
    Ok(match sql.kind {
        SqlKind::Statement => Executed::Affected(stream.rows_affected().unwrap_or(0)),
        SqlKind::Query => Executed::Rows(table),
    })
}

async fn mysql(
    conn: &mut mysql_async::Conn,
    sql: &SqlTask,
    max_rows: usize,
) -> Result<Executed, String> {
    let my = |e: mysql_async::Error| e.to_string();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .map_err(my)?;
    for (i, statement) in sql.pre.iter().enumerate() {
        tx.query_drop(statement)
            .await
            .map_err(|e| format!("pre statement {}: {e}", i + 1))?;
    }
    let executed = match sql.kind {
        SqlKind::Statement => {
            if sql.bind.is_empty() {
                tx.query_drop(&sql.sql).await.map_err(my)?;
            } else {
                tx.exec_drop(&sql.sql, datasource::mysql_params(&sql.bind))
                    .await
                    .map_err(my)?;
            }
            Executed::Affected(tx.affected_rows())
        }
        SqlKind::Query => {
            let table = if sql.bind.is_empty() {
                let result = tx.query_iter(&sql.sql).await.map_err(my)?;
                mysql_table(result, max_rows).await?
            } else {
                let result = tx
                    .exec_iter(&sql.sql, datasource::mysql_params(&sql.bind))
                    .await
                    .map_err(my)?;
                mysql_table(result, max_rows).await?
            };
            Executed::Rows(table)
        }
    };
    for (i, statement) in sql.post.iter().enumerate() {
        tx.query_drop(statement)
            .await
            .map_err(|e| format!("post statement {}: {e}", i + 1))?;
    }
    tx.commit().await.map_err(my)?;
    Ok(executed)
}

/// Up to `max_rows` rows of a MySQL result (the rest is read and dropped).
async fn mysql_table<P: mysql_async::prelude::Protocol>(
    mut result: mysql_async::QueryResult<'_, '_, P>,
    max_rows: usize,
) -> Result<Table, String> {
    let mut table = Table {
        columns: result
            .columns_ref()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect(),
        ..Table::default()
    };
    while let Some(row) = result.next().await.map_err(|e| e.to_string())? {
        if table.rows.len() == max_rows {
            table.truncated = true;
            continue;
        }
        let row: mysql_async::Row = row;
        table
            .rows
            .push(row.unwrap().iter().map(datasource::mysql_text).collect());
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(out: &[&str], out_rows: Option<&str>) -> SqlTask {
        let mut yaml = String::from(
            "project: p\nname: w\ntasks:\n  - name: q\n    type: sql\n    datasource: d\n    sql: select 1\n",
        );
        if !out.is_empty() {
            yaml.push_str(&format!("    out: [{}]\n", out.join(", ")));
        }
        if let Some(name) = out_rows {
            yaml.push_str(&format!("    out_rows: {name}\n"));
        }
        let specs = crate::apply::check_text("t.yaml", &yaml).unwrap();
        match &specs[0].tasks[0].kind {
            TaskKind::Sql(sql) => sql.clone(),
            _ => unreachable!(),
        }
    }

    fn table(rows: &[&[Option<&str>]]) -> Table {
        Table {
            columns: vec!["id".into(), "name".into()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
                .collect(),
            truncated: false,
        }
    }

    #[test]
    fn one_row_sets_each_named_column() {
        let out = out_params(
            &task(&["id", "name"], None),
            &table(&[&[Some("7"), Some("ann")]]),
        )
        .unwrap();
        assert_eq!(out["id"], "7");
        assert_eq!(out["name"], "ann");
    }

    #[test]
    fn several_rows_give_json_lists() {
        let t = table(&[&[Some("1"), Some("a")], &[Some("2"), None]]);
        let out = out_params(&task(&["name"], Some("all")), &t).unwrap();
        assert_eq!(out["name"], r#"["a",null]"#);
        assert_eq!(
            out["all"],
            r#"[{"id":"1","name":"a"},{"id":"2","name":null}]"#
        );
    }

    #[test]
    fn an_unknown_column_is_an_error_naming_the_columns() {
        let e = out_params(&task(&["total"], None), &table(&[])).unwrap_err();
        assert!(
            e.contains("no column total") && e.contains("id, name"),
            "{e}"
        );
    }
}
