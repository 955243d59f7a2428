//! Fidelity tests for Presently: the `presently` binary as a black box against fakes of
//! the Microsoft identity platform ([`identity`]) and Microsoft Graph ([`graph`]) written
//! from Microsoft's documentation, answering with Microsoft's published examples
//! ([`fixtures`]), not from Presently's own emulator. [`harness`] runs the binary with a
//! data directory, configuration and `TZ` of its own per scenario.
//!
//! The scenarios are in `tests/`; README.md says what they check and how to run them.

// A black box beside Presently, faking Microsoft's services on the wall clock: the rule that
// time enters through a `Clock` (clippy.toml) binds Presently's code, not this suite.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic is the failure report

pub mod fixtures;
pub mod graph;
pub mod harness;
pub mod identity;
mod server;
#[cfg(test)]
mod tests;

pub use graph::{Graph, Mailbox};
pub use harness::{session, wait_until, Home, Outcome, Running, Scenario};
pub use identity::Identity;
pub use server::{Call, Journal};
