//! Time enters the engine only through [`Clock`], so every time-dependent path can be
//! driven by a clock the tests hold.

use chrono::{DateTime, Utc};
use std::sync::Mutex;

/// A source of the current instant.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock. Binaries construct it at their edge and hand it in; engine logic
/// never calls `Utc::now()` itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the wall clock is read (clippy.toml's disallowed-methods).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows whatever instant it was last set to; for tests and demos.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_clock_advances_only_when_told() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap();
        let clock = FixedClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(chrono::Duration::minutes(90));
        assert_eq!(clock.now(), t0 + chrono::Duration::minutes(90));
    }
}
