//! Connections to a task's datasource (Postgres or MySQL/MariaDB), and the text forms of
//! the values that go in and come out.
//!
//! Values are bound as parameters, never spliced into SQL: to Postgres each text value is
//! sent as the type the server inferred for its `$n` (numbers, booleans, dates, times, JSON,
//! UUIDs and text; other types are cast in the SQL: `$1::text::inet`); to MySQL as strings,
//! which the server converts. Results come back as text (or null) whatever their type.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::RunContext;
use super::pool::Pool;
use crate::store::datasources;

/// A connection taken from the datasource's pool on this worker; it goes back when
/// dropped (see [`discard`] for one that must not).
// One per running attempt, moved once: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Connection {
    Postgres {
        client: deadpool_postgres::Object,
        /// For a cancel request.
        tls: super::tls::Connector,
    },
    Mysql(mysql_async::Conn),
}

/// A connection to the datasource `name` of the task's project, from this worker's pool of
/// it. Waits for a free one when the pool is full; a kill or timeout ends the wait.
pub async fn connect(ctx: &RunContext, name: &str) -> Result<Connection, String> {
    let project = ctx.project();
    // Read with the claim (`queue/claim.sql`); looked up only for another name.
    let claimed = ctx
        .task
        .datasource
        .as_ref()
        .filter(|_| ctx.task.payload.get("datasource").and_then(|d| d.as_str()) == Some(name));
    let record = if let Some(record) = claimed {
        record.clone()
    } else {
        let client = ctx
            .resources
            .store
            .client()
            .await
            .map_err(|e| e.to_string())?;
        datasources::get(&client, project, name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("datasource {project}/{name} does not exist"))?
    };
    let password = password(ctx, name, &record)?;
    let pool = ctx.resources.pools.get(
        (project, name),
        &record,
        password.as_deref(),
        &format!(
            "pgdag:{}:{project}/{name}",
            ctx.resources.config.server_name
        ),
    )?;
    let acquire = async {
        match pool {
            Pool::Postgres { pool, tls } => match pool.get().await {
                Ok(client) => Ok(Connection::Postgres { client, tls }),
                Err(deadpool_postgres::PoolError::Backend(e)) => {
                    let mut text = format!("datasource {name}: cannot connect: {}", pg_error(&e));
                    if record.url.contains("sslmode=verify") && text.contains("certificate") {
                        text.push_str(
                            " (sslmode verify-full accepts only a certificate for this host signed by a root the worker's system trusts)",
                        );
                    }
                    Err(text)
                }
                Err(e) => Err(format!("datasource {name}: cannot connect: {e}")),
            },
            Pool::Mysql(pool) => {
                tokio::time::timeout(super::pool::CONNECT_TIMEOUT, pool.get_conn())
                    .await
                    .map_err(|_| format!("datasource {name}: connecting timed out"))?
                    .map(Connection::Mysql)
                    .map_err(|e| format!("datasource {name}: cannot connect: {e}"))
            }
        }
    };
    tokio::select! {
        r = acquire => r,
        _ = ctx.cancel.cancelled() => Err("cancelled while waiting for a connection".into()),
    }
}

/// Closes a Postgres connection instead of giving it back: a cancelled statement may leave
/// it busy.
pub fn discard(client: deadpool_postgres::Object) {
    drop(deadpool_postgres::Object::take(client));
}

fn password(
    ctx: &RunContext,
    name: &str,
    record: &datasources::DatasourceRecord,
) -> Result<Option<String>, String> {
    if let Some(var) = &record.password_env {
        // Only what the operator passes to tasks: else a writer could send any variable
        // of the worker (PGDAG_SECRET_KEY...) as a password to a host of theirs.
        if !ctx.resources.config.task_env_passthrough.allows(var) {
            return Err(format!(
                "datasource {name}: password_env {var} is not in {} of worker {}",
                super::env::PASSTHROUGH_VAR,
                ctx.resources.config.server_name
            ));
        }
        return std::env::var(var).map(Some).map_err(|_| {
            format!(
                "datasource {name}: environment variable {var} (its password_env) is not set for worker {}",
                ctx.resources.config.server_name
            )
        });
    }
    let Some(secret) = &record.password_secret else {
        return Ok(None);
    };
    let key = ctx.resources.secret_key.as_ref().ok_or_else(|| {
        format!(
            "datasource {name} has a stored password but {} is not set on this worker",
            crate::secret::SECRET_KEY_VAR
        )
    })?;
    key.decrypt(secret).map(Some)
}

/// A Postgres error with the server's message, detail and hint when there is one.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            if let Some(tokio_postgres::error::ErrorPosition::Original(p)) = db.position() {
                text.push_str(&format!(" at character {p}"));
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// A text value bound to a Postgres parameter of whatever type the server inferred.
#[derive(Debug)]
pub struct TextParam<'a>(pub &'a str);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let text = self.0;
        let t = text.trim();
        let bad = |what: &str| -> Box<dyn Error + Sync + Send> {
            format!("{text:?} is not {what} (parameter of type {ty})").into()
        };
        match *ty {
            Type::BOOL => match t.to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "on" | "1" => true.to_sql(ty, out),
                "false" | "f" | "no" | "n" | "off" | "0" => false.to_sql(ty, out),
                _ => Err(bad("a boolean")),
            },
            Type::INT2 => t.parse::<i16>().map_err(|_| bad("a smallint"))?.to_sql(ty, out),
            Type::INT4 => t.parse::<i32>().map_err(|_| bad("an integer"))?.to_sql(ty, out),
            Type::INT8 => t.parse::<i64>().map_err(|_| bad("a bigint"))?.to_sql(ty, out),
            Type::OID => t.parse::<u32>().map_err(|_| bad("an oid"))?.to_sql(ty, out),
            Type::FLOAT4 => t.parse::<f32>().map_err(|_| bad("a real"))?.to_sql(ty, out),
            Type::FLOAT8 => t.parse::<f64>().map_err(|_| bad("a double"))?.to_sql(ty, out),
            Type::JSON | Type::JSONB => serde_json::from_str::<serde_json::Value>(text)
                .map_err(|_| bad("JSON"))?
                .to_sql(ty, out),
            Type::UUID => uuid::Uuid::parse_str(t)
                .map_err(|_| bad("a UUID"))?
                .to_sql(ty, out),
            Type::DATE => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .or_else(|_| chrono::NaiveDate::parse_from_str(t, "%Y%m%d"))
                .map_err(|_| bad("a date (YYYY-MM-DD or YYYYMMDD)"))?
                .to_sql(ty, out),
            Type::TIMESTAMP => naive_time(t)
                .ok_or_else(|| bad("a timestamp (YYYY-MM-DD HH:MM:SS)"))?
                .to_sql(ty, out),
            Type::TIMESTAMPTZ => chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&chrono::Utc))
                .ok()
                .or_else(|| naive_time(t).map(|n| n.and_utc()))
                .ok_or_else(|| bad("a timestamp (RFC 3339, or YYYY-MM-DD HH:MM:SS in UTC)"))?
                .to_sql(ty, out),
            Type::NUMERIC => {
                out.extend_from_slice(&numeric_binary(t).ok_or_else(|| bad("a number"))?);
                Ok(IsNull::No)
            }
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                text.to_sql(&Type::TEXT, out)
            }
            _ => Err(format!(
                "a parameter of type {ty} cannot be bound from text: cast it in the SQL, e.g. $1::text::{ty}"
            )
            .into()),
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

fn naive_time(t: &str) -> Option<chrono::NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ]
    .iter()
    .find_map(|f| {
        chrono::NaiveDateTime::parse_from_str(t, f)
            .ok()
            .or_else(|| {
                (*f == "%Y-%m-%d")
                    .then(|| chrono::NaiveDate::parse_from_str(t, f).ok())
                    .flatten()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
    })
}

/// Any Postgres value decoded to its text form (binary protocol).
pub struct AnyText(pub Option<String>);

impl<'a> FromSql<'a> for AnyText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let text = match *ty {
            Type::BOOL => bool::from_sql(ty, raw)?.to_string(),
            Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
            Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
            Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
            Type::OID => u32::from_sql(ty, raw)?.to_string(),
            Type::FLOAT4 => f32::from_sql(ty, raw)?.to_string(),
            Type::FLOAT8 => f64::from_sql(ty, raw)?.to_string(),
            Type::NUMERIC => numeric_text(raw)?,
            Type::JSON | Type::JSONB => serde_json::Value::from_sql(ty, raw)?.to_string(),
            Type::UUID => uuid::Uuid::from_sql(ty, raw)?.to_string(),
            Type::DATE => chrono::NaiveDate::from_sql(ty, raw)?.to_string(),
            Type::TIMESTAMP => chrono::NaiveDateTime::from_sql(ty, raw)?.to_string(),
            Type::TIMESTAMPTZ => chrono::DateTime::<chrono::Utc>::from_sql(ty, raw)?.to_rfc3339(),
            Type::BYTEA => format!("\\x{}", hex::encode(raw)),
            _ => match std::str::from_utf8(raw) {
                // text-like types (text, varchar, name, enums, citext...) are UTF-8 on the wire
                Ok(s) if !s.contains('\0') => s.to_string(),
                _ => format!("<{ty}: cast to text in the query to see it>"),
            },
        };
        Ok(AnyText(Some(text)))
    }
    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(AnyText(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Postgres `numeric` from its binary form: ndigits, weight, sign, dscale, base-10000 digits.
fn numeric_text(raw: &[u8]) -> Result<String, Box<dyn Error + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn Error + Sync + Send>> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i32;
    let sign = word(2)?;
    let dscale = word(3)? as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<_, _>>()?;
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            if d != 0 {
                int_part = d.to_string();
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut w = weight + 1;
    while frac.len() < dscale {
        let d = if w < 0 {
            0
        } else {
            digits.get(w as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        w += 1;
    }
    frac.truncate(dscale);
    let mut text = if sign == 0x4000 {
        "-".to_string()
    } else {
        String::new()
    };
    text.push_str(&int_part);
    if dscale > 0 {
        text.push('.');
        text.push_str(&frac);
    }
    Ok(text)
}

/// Postgres `numeric` in its binary form from decimal text (`-12.50`, `NaN`).
fn numeric_binary(text: &str) -> Option<Vec<u8>> {
    let words = |ndigits: usize, weight: i16, sign: u16, dscale: u16, digits: &[u16]| {
        let mut out = Vec::with_capacity(8 + digits.len() * 2);
        for w in [ndigits as u16, weight as u16, sign, dscale]
            .iter()
            .chain(digits)
        {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out
    };
    if text.eq_ignore_ascii_case("nan") {
        return Some(words(0, 0, 0xC000, 0, &[]));
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || frac_part.len() > 16383
    {
        return None;
    }
    let int_part = int_part.trim_start_matches('0');
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_text = format!("{}{int_part}", "0".repeat(int_pad));
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_text = format!("{frac_part}{}", "0".repeat(frac_pad));
    let group = |chunk: &[u8]| -> u16 {
        std::str::from_utf8(chunk)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let mut digits: Vec<u16> = int_text.as_bytes().chunks(4).map(group).collect();
    let mut weight = digits.len() as i32 - 1;
    digits.extend(frac_text.as_bytes().chunks(4).map(group));
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let dscale = frac_part.len() as u16;
    if digits.is_empty() {
        return Some(words(0, 0, 0, dscale, &[]));
    }
    let weight = i16::try_from(weight).ok()?;
    let sign = if negative { 0x4000 } else { 0 };
    Some(words(digits.len(), weight, sign, dscale, &digits))
}

/// A MySQL value in its text form.
pub fn mysql_text(value: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value as V;
    Some(match value {
        V::NULL => return None,
        V::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        V::Int(i) => i.to_string(),
        V::UInt(u) => u.to_string(),
        V::Float(f) => f.to_string(),
        V::Double(d) => d.to_string(),
        V::Date(y, mo, d, h, mi, s, us) => {
            if *us > 0 {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        V::Time(neg, days, h, mi, s, us) => {
            let hours = *days as u64 * 24 + *h as u64;
            let sign = if *neg { "-" } else { "" };
            if *us > 0 {
                format!("{sign}{hours:02}:{mi:02}:{s:02}.{us:06}")
            } else {
                format!("{sign}{hours:02}:{mi:02}:{s:02}")
            }
        }
    })
}

/// Values for MySQL `?` placeholders.
pub fn mysql_params(values: &[String]) -> mysql_async::Params {
    if values.is_empty() {
        mysql_async::Params::Empty
    } else {
        mysql_async::Params::Positional(
            values
                .iter()
                .map(|v| mysql_async::Value::Bytes(v.clone().into_bytes()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> String {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        numeric_text(&raw).unwrap()
    }

    #[test]
    fn numerics_decode_to_their_text() {
        assert_eq!(numeric(0, 0, 0, 0, &[]), "0");
        assert_eq!(numeric(1, 0, 0, 0, &[42]), "42");
        assert_eq!(numeric(2, 1, 0, 0, &[1, 2345]), "12345");
        assert_eq!(numeric(2, 0, 0, 2, &[12, 3400]), "12.34");
        assert_eq!(numeric(1, -1, 0x4000, 3, &[500]), "-0.050");
        assert_eq!(numeric(1, -2, 0, 6, &[700]), "0.000007");
        assert_eq!(numeric(0, 0, 0xC000, 0, &[]), "NaN");
    }

    #[test]
    fn numerics_encode_from_text_and_decode_back() {
        for text in [
            "0",
            "42",
            "12345",
            "12.34",
            "-0.050",
            "0.000007",
            "100000000.5",
            "-7",
            "0.00",
        ] {
            let raw = numeric_binary(text).unwrap();
            assert_eq!(numeric_text(&raw).unwrap(), text, "{text}");
        }
        assert_eq!(
            numeric_text(&numeric_binary("007.10").unwrap()).unwrap(),
            "7.10"
        );
        assert_eq!(numeric_text(&numeric_binary("+3").unwrap()).unwrap(), "3");
        for bad in ["", ".", "1e3", "abc", "1.2.3", "--1"] {
            assert!(numeric_binary(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn mysql_values_become_text() {
        use mysql_async::Value as V;
        assert_eq!(mysql_text(&V::NULL), None);
        assert_eq!(mysql_text(&V::Int(-3)).unwrap(), "-3");
        assert_eq!(
            mysql_text(&V::Date(2026, 1, 2, 3, 4, 5, 0)).unwrap(),
            "2026-01-02 03:04:05"
        );
        assert_eq!(
            mysql_text(&V::Time(true, 1, 2, 3, 4, 0)).unwrap(),
            "-26:03:04"
        );
    }
}
