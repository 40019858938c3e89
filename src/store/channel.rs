//! The NOTIFY channels: the only names a notification is sent or listened on. The triggers
//! in `sql/migrations` send `pgdag_command` and `pgdag_alert` themselves.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A command row was inserted (masters claim it).
    Command,
    /// Attempts were queued (workers claim them).
    Task,
    /// An instance has an evaluation event (masters evaluate it).
    Eval,
    /// A kill was requested (workers look for their attempts to kill).
    Control,
    /// An alert was written (alert processes route and send it).
    Alert,
    /// A schedule became due sooner (the leader's cron firer looks again).
    Schedule,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Command,
        Channel::Task,
        Channel::Eval,
        Channel::Control,
        Channel::Alert,
        Channel::Schedule,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Command => "pgdag_command",
            Channel::Task => "pgdag_task",
            Channel::Eval => "pgdag_eval",
            Channel::Control => "pgdag_control",
            Channel::Alert => "pgdag_alert",
            Channel::Schedule => "pgdag_schedule",
        }
    }

    /// The channel of a received notification (None for a channel pgdag does not use).
    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// `LISTEN` on every channel, as one simple query (LISTEN cannot be prepared).
    pub(crate) fn listen_all() -> String {
        Channel::ALL
            .iter()
            .map(|c| format!("LISTEN {};", c.name()))
            .collect()
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_name(c.name()), Some(c));
        }
        assert_eq!(Channel::from_name("pgdag_other"), None);
    }

    /// The triggers that notify by themselves use the names of this enum.
    #[test]
    fn migrations_notify_only_known_channels() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/migrations");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for (i, _) in text.match_indices("pg_notify('") {
                let name: String = text[i + "pg_notify('".len()..]
                    .chars()
                    .take_while(|c| *c != '\'')
                    .collect();
                assert!(
                    Channel::from_name(&name).is_some(),
                    "unknown channel {name}"
                );
            }
        }
    }
}
