//! Microsoft Graph wire types and their mapping to the domain model.
//!
//! Only this module knows Graph's JSON shapes. Unknown fields are ignored, unknown
//! enum values become `Unknown`, and a value that cannot be used is an error for
//! that one item, never a reason to drop its neighbours.

pub mod batch;
pub mod body;
pub mod client;
pub mod event;
pub mod timezone;

pub use client::{network_error, parse_retry_after, GraphClient};
pub use event::{parse_calendar, parse_event, CalendarView, EventChange};
