//! The one "now" that decides whether something is due.
//!
//! pgdag judges time by the database clock (docs/architecture.md, "Time"): a statement that
//! asks "is it due" reads `greatest($now::timestamptz, now())`, and a statement that
//! computes a due time from "now" (a retry, a wake-up, a schedule's first fire) starts from
//! the same expression. In production the [`Clock`] is [`Clock::database`] and passes
//! `None`, so the statement reads `now()` — nothing changes. A test gives every role of its
//! process one [`Clock::fixed`] instant and moves it with [`Clock::advance`], so a cron
//! fire, a retry interval or a relation delay is seen without waiting for it.
//!
//! `greatest`, not `coalesce`: Postgres's `greatest` ignores a null, and a test clock can
//! only put time ahead of the database's, never behind. A row the database stamps itself
//! (a column default, `clock_timestamp()`) is then never in the test clock's future, so
//! nothing stalls when a test forgets to move its clock; it only sees such rows as older.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// The clock the roles of one process share (in [`crate::config::Config`]).
#[derive(Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The database's own clock: every statement reads `now()`.
    pub fn database() -> Clock {
        Clock { fixed: None }
    }

    /// A clock that stays at `at` until it is set or advanced (for tests). The database's
    /// clock still wins when it is later.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock {
            fixed: Some(Arc::new(Mutex::new(at))),
        }
    }

    /// The instant to pass as a statement's `$now`; `None` means the database's `now()`.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.fixed
            .as_ref()
            .map(|at| *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Move a fixed clock forward (a database clock cannot be moved: a no-op).
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(at) = &self.fixed {
            let mut at = at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *at += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        }
    }

    /// Set a fixed clock (a database clock cannot be set: a no-op).
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(at) = &self.fixed {
            *at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.now() {
            None => f.write_str("Clock::database()"),
            Some(at) => write!(f, "Clock::fixed({at})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_clock_passes_none_and_cannot_move() {
        let clock = Clock::database();
        clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(clock.now(), None);
    }

    #[test]
    fn a_fixed_clock_moves_only_when_told_and_clones_share_it() {
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::fixed(at);
        let role = clock.clone();
        assert_eq!(role.now(), Some(at));
        clock.advance(std::time::Duration::from_secs(2));
        assert_eq!(role.now(), Some(at + chrono::Duration::seconds(2)));
        clock.set(at);
        assert_eq!(role.now(), Some(at));
    }
}
