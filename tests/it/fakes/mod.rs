//! Stand-ins for the servers pgdag talks to, started by tests on port 0: an SMTP sink and a
//! webhook receiver (used by the alert tests).

pub mod smtp;
pub mod webhook;
