//! `procedure`: `CALL name(args..., OUT...)` on a datasource. `args` are the IN values (bound
//! as parameters), `out` names the OUT parameters that follow them, in order; their values
//! become the task's out params. Postgres returns OUT values as the CALL's row; MySQL gets
//! session variables `@pgdag_out_N`, read back with a SELECT on the same connection.

use futures_util::future::BoxFuture;
use mysql_async::prelude::Queryable;

use super::datasource::{self, AnyText, Connection, TextParam, pg_error};
use super::{Outcome, RunContext, Side, TaskPlugin};
use crate::model::TaskType;
use crate::spec::{ProcedureTask, TaskKind};

pub struct Procedure;

impl TaskPlugin for Procedure {
    fn task_type(&self) -> TaskType {
        TaskType::Procedure
    }
    fn side(&self) -> Side {
        Side::Worker
    }
    fn expanded_keys(&self) -> &'static [&'static str] {
        &["args"]
    }
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outcome, String>> {
        Box::pin(run(ctx))
    }
}

/// The CALL statement for Postgres (`$n` placeholders, NULL for each OUT).
pub fn postgres_call(p: &ProcedureTask) -> String {
    let mut args: Vec<String> = (1..=p.args.len()).map(|i| format!("${i}")).collect();
    args.extend(p.out.iter().map(|_| "NULL".to_string()));
    format!("CALL {}({})", p.call, args.join(", "))
}

/// The CALL statement for MySQL (`?` placeholders, a session variable for each OUT) and
/// the SELECT that reads the OUT values back.
pub fn mysql_call(p: &ProcedureTask) -> (String, Option<String>) {
    let mut args: Vec<String> = p.args.iter().map(|_| "?".to_string()).collect();
    let vars: Vec<String> = (1..=p.out.len())
        .map(|i| format!("@pgdag_out_{i}"))
        .collect();
    args.extend(vars.iter().cloned());
    let call = format!("CALL {}({})", p.call, args.join(", "));
    let select = (!vars.is_empty()).then(|| format!("SELECT {}", vars.join(", ")));
    (call, select)
}

async fn run(ctx: &RunContext) -> Result<Outcome, String> {
    let TaskKind::Procedure(p) = ctx.kind()? else {
        return Err("not a procedure task".into());
    };
    let connection = datasource::connect(ctx, &p.datasource).await?;
    let values: Vec<Option<String>> = match connection {
        Connection::Postgres { client, tls } => {
            let call = postgres_call(&p);
            ctx.log(format!("[pgdag] {call} with {:?}\n", p.args));
            let token = client.cancel_token();
            let done = {
                let work = async {
                    let params: Vec<TextParam> = p.args.iter().map(|v| TextParam(v)).collect();
                    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                        .iter()
                        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    // The pooled connection is cleaned in the same round trip as the
                    // call's prepare (`sql::SESSION_RESET`).
                    let (reset, rows) = tokio::join!(
                        client.batch_execute(super::sql::SESSION_RESET),
                        client.query(&call, &refs)
                    );
                    reset
                        .map_err(|e| format!("cleaning the pooled connection: {}", pg_error(&e)))?;
                    let rows = rows.map_err(|e| pg_error(&e))?;
                    let mut values = Vec::new();
                    if let Some(row) = rows.first() {
                        for i in 0..row.len() {
                            let AnyText(v) = row.try_get(i).map_err(|e| pg_error(&e))?;
                            values.push(v);
                        }
                    }
                    Ok::<_, String>(values)
                };
                tokio::select! {
                    r = work => Some(r),
                    _ = ctx.cancel.cancelled() => None,
                }
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
            let (call, select) = mysql_call(&p);
            ctx.log(format!("[pgdag] {call} with {:?}\n", p.args));
            let work = async {
                let my = |e: mysql_async::Error| e.to_string();
                if p.args.is_empty() {
                    conn.query_drop(&call).await.map_err(my)?;
                } else {
                    conn.exec_drop(&call, datasource::mysql_params(&p.args))
                        .await
                        .map_err(my)?;
                }
                let mut values = Vec::new();
                if let Some(select) = &select {
                    let row: Option<mysql_async::Row> =
                        conn.query_first(select).await.map_err(my)?;
                    if let Some(row) = row {
                        values = row.unwrap().iter().map(datasource::mysql_text).collect();
                    }
                }
                Ok::<_, String>(values)
            };
            tokio::select! {
                r = work => r?,
                _ = ctx.cancel.cancelled() => return Err("cancelled".into()),
            }
        }
    };
    let mut outcome = Outcome::success();
    if values.len() < p.out.len() {
        return Err(format!(
            "the procedure returned {} OUT value(s), but out names {}",
            values.len(),
            p.out.len()
        ));
    }
    for (name, value) in p.out.iter().zip(values) {
        let value = value.unwrap_or_default();
        ctx.log(format!("[pgdag] out param {name} = {value}\n"));
        outcome.out_params.insert(name.clone(), value);
    }
    ctx.log("[pgdag] procedure done\n");
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procedure(args: &[&str], out: &[&str]) -> ProcedureTask {
        ProcedureTask {
            datasource: "d".into(),
            call: "etl.bump".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            out: out.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn postgres_calls_bind_in_values_and_pass_null_for_outs() {
        assert_eq!(
            postgres_call(&procedure(&["a", "b"], &["total"])),
            "CALL etl.bump($1, $2, NULL)"
        );
        assert_eq!(postgres_call(&procedure(&[], &[])), "CALL etl.bump()");
    }

    #[test]
    fn mysql_calls_read_outs_from_session_variables() {
        let (call, select) = mysql_call(&procedure(&["a"], &["x", "y"]));
        assert_eq!(call, "CALL etl.bump(?, @pgdag_out_1, @pgdag_out_2)");
        assert_eq!(select.as_deref(), Some("SELECT @pgdag_out_1, @pgdag_out_2"));
        assert_eq!(mysql_call(&procedure(&[], &[])).1, None);
    }
}
