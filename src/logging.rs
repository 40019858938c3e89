//! The process's own log lines (tracing) on stderr.
//!
//! Text by default, colored only for a person at a terminal: stderr redirected to a file,
//! a pipe, systemd or a container log collector gets plain text, and `NO_COLOR` (any
//! non-empty value, <https://no-color.org>) turns color off everywhere.
//!
//! `PGDAG_LOG_FORMAT=json`: one JSON object per line, for log collectors. Its keys are
//! `timestamp` (RFC 3339, UTC), `level`, `target`, `message`, the event's fields and the
//! fields of the spans it happened in, flattened (an inner one wins): `instance_id` and
//! `task_instance_id` where an instance or an attempt is concerned, and `server_id` on
//! every line once the process has registered.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter when `PGDAG_LOG` is not set.
pub const DEFAULT_FILTER: &str = "pgdag=info,warn";

/// This process's server id, for JSON log lines (0: not registered yet). Set by membership.
static SERVER_ID: AtomicI64 = AtomicI64::new(0);

pub fn set_server_id(id: i64) {
    SERVER_ID.store(id, Ordering::Relaxed);
}

/// Whether `init` chose JSON lines.
static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A message of a long-running command to its operator (start-up, shutdown): a plain line
/// on stderr, or a log line when stderr carries JSON, so that every line there parses.
pub fn say(message: std::fmt::Arguments<'_>) {
    if JSON.load(Ordering::Relaxed) {
        tracing::info!(target: "pgdag", "{message}");
    } else {
        eprintln!("{message}");
    }
}

/// How log lines are written (`PGDAG_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Format, String> {
        match text.map(str::trim) {
            None | Some("" | "text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(format!("PGDAG_LOG_FORMAT: {other:?} is not text or json")),
        }
    }
}

/// Install the stderr subscriber; `PGDAG_LOG` is an `EnvFilter` directive,
/// `PGDAG_LOG_FORMAT` is `text` (the default) or `json`.
pub fn init() {
    let filter = std::env::var("PGDAG_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into());
    let format = match Format::parse(std::env::var("PGDAG_LOG_FORMAT").ok().as_deref()) {
        Ok(format) => format,
        Err(e) => {
            eprintln!("warning: {e}; writing text");
            Format::Text
        }
    };
    if format == Format::Json {
        JSON.store(true, Ordering::Relaxed);
        tracing_subscriber::registry()
            .with(filter)
            .with(JsonLayer)
            .init();
        return;
    }
    let no_color = std::env::var("NO_COLOR").ok();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_color(
            std::io::stderr().is_terminal(),
            no_color.as_deref(),
        ))
        .init();
}

/// Fields of an event or span, as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// Writes each event as one JSON object on a line of stderr.
struct JsonLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for JsonLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut Fields(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Fields(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut spans = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    spans.extend(fields.0.clone());
                }
            }
        }
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        let line = json_line(
            chrono::Utc::now(),
            event.metadata().level().as_str(),
            event.metadata().target(),
            spans,
            fields,
            SERVER_ID.load(Ordering::Relaxed),
        );
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// One log line: the fixed keys, then span fields, then the event's (which win).
fn json_line(
    at: chrono::DateTime<chrono::Utc>,
    level: &str,
    target: &str,
    spans: Map<String, Value>,
    fields: Map<String, Value>,
    server_id: i64,
) -> String {
    let mut line = Map::new();
    line.insert(
        "timestamp".into(),
        Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    line.insert("level".into(), Value::String(level.to_string()));
    line.insert("target".into(), Value::String(target.to_string()));
    if server_id > 0 {
        line.insert("server_id".into(), Value::from(server_id));
    }
    line.extend(spans);
    line.extend(fields);
    Value::Object(line).to_string()
}

/// Whether log lines carry ANSI color codes.
pub fn use_color(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_one_object_with_ids_as_fields() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut spans = Map::new();
        spans.insert("instance_id".into(), Value::from(7));
        spans.insert("task_instance_id".into(), Value::from(9));
        let mut fields = Map::new();
        fields.insert("message".into(), Value::from("line\nbreak"));
        fields.insert("task_instance_id".into(), Value::from(10));
        let line = json_line(at, "INFO", "pgdag::worker", spans, fields, 3);
        assert!(!line.contains('\n'), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["timestamp"], "2026-12-01T10:00:00.000000Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["server_id"], 3);
        assert_eq!(v["instance_id"], 7);
        assert_eq!(v["task_instance_id"], 10, "the event's own field wins");
        assert_eq!(v["message"], "line\nbreak");
        assert!(
            json_line(at, "INFO", "t", Map::new(), Map::new(), 0)
                .find("server_id")
                .is_none()
        );
    }

    #[test]
    fn the_format_is_text_or_json() {
        assert_eq!(Format::parse(None), Ok(Format::Text));
        assert_eq!(Format::parse(Some("json")), Ok(Format::Json));
        assert!(Format::parse(Some("yaml")).is_err());
    }

    #[test]
    fn color_only_on_a_terminal() {
        assert!(use_color(true, None));
        assert!(!use_color(false, None));
    }

    #[test]
    fn no_color_turns_it_off_when_set_to_anything() {
        assert!(!use_color(true, Some("1")));
        assert!(!use_color(false, Some("1")));
        // An empty NO_COLOR is "not set", as the convention says.
        assert!(use_color(true, Some("")));
    }
}
