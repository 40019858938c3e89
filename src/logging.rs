//! The process's own log lines (tracing) on stderr.
//!
//! Colored only for a person at a terminal: stderr redirected to a file, a pipe, systemd
//! or a container log collector gets plain text, and `NO_COLOR` (any non-empty value,
//! <https://no-color.org>) turns color off everywhere.

use std::io::IsTerminal;

/// The filter when `PGDAG_LOG` is not set.
pub const DEFAULT_FILTER: &str = "pgdag=info,warn";

/// Install the stderr subscriber; `PGDAG_LOG` is an `EnvFilter` directive.
pub fn init() {
    let filter = std::env::var("PGDAG_LOG").unwrap_or_else(|_| DEFAULT_FILTER.into());
    let no_color = std::env::var("NO_COLOR").ok();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(use_color(
            std::io::stderr().is_terminal(),
            no_color.as_deref(),
        ))
        .init();
}

/// Whether log lines carry ANSI color codes.
pub fn use_color(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::use_color;

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
