//! Presently's engine: everything the desktop app and the CLI do, with no GUI.
//!
//! The engine owns the domain model, configuration, the local store and the agenda
//! queries (and, as they land, sign-in, the Graph client, sync and presence).
//! It never reads the system clock in its logic: time arrives through a [`Clock`].

pub mod agenda;
pub mod auth;
pub mod clock;
pub mod config;
pub mod effective;
pub mod engine;
pub mod error;
pub mod graph;
pub mod i18n;
pub mod ics;
pub mod links;
pub mod logging;
pub mod model;
pub mod paths;
pub mod policy;
pub mod presence;
pub mod private;
pub mod reminders;
pub mod store;
pub mod sync;
pub mod zone;

pub use clock::{Clock, FixedClock, SystemClock};
pub use engine::{Engine, EngineSetup, NextSwitch, SkipOutcome, SkipTarget, StatusView};
pub use error::{ApiError, Error, ErrorCode};
pub use links::OpenKind;
