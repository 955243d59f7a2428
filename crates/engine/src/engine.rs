//! [`Engine`]: the one handle the app shell and the CLI hold. It owns the store, the
//! configuration and the clock, and answers the questions the surfaces ask.

use crate::agenda::{self, AgendaView};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::graph::{parse_calendar, CalendarView, EventChange};
use crate::model::{Account, Appointment};
use crate::paths::Paths;
use crate::store::{ApplyStats, Store, SyncState};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything [`Engine::open`] needs.
pub struct EngineSetup {
    pub paths: Paths,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// Signed in to the embedded emulator rather than Microsoft 365.
    pub demo: bool,
}

pub struct Engine {
    paths: Paths,
    config: Config,
    clock: Arc<dyn Clock>,
    demo: bool,
    store: Mutex<Store>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountStatus {
    pub signed_in: bool,
    pub upn: Option<String>,
    pub display_name: Option<String>,
    pub demo: bool,
}

/// `never` until a first sync completes; the running app reports `syncing`, `offline`
/// and `error` as they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    Never,
    Idle,
    Syncing,
    Offline,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    pub state: SyncPhase,
    pub last_synced_at: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub account: AccountStatus,
    pub sync: SyncStatus,
}

impl Engine {
    pub fn open(setup: EngineSetup) -> Result<Self, Error> {
        let store = Store::open(&setup.paths.store_file())?;
        Ok(Self {
            paths: setup.paths,
            config: setup.config,
            clock: setup.clock,
            demo: setup.demo,
            store: Mutex::new(store),
        })
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a half-written store (every write is a
        // transaction), so a poisoned lock is safe to keep using.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Today in the display zone.
    pub fn today(&self) -> NaiveDate {
        self.clock
            .now()
            .with_timezone(&self.config.display_timezone())
            .date_naive()
    }

    /// The agenda from `from` (default today) for `days` days (default from the config).
    pub fn agenda(&self, from: Option<NaiveDate>, days: Option<u32>) -> Result<AgendaView, Error> {
        let days = days.unwrap_or(self.config.agenda.days);
        if !(1..=366).contains(&days) {
            return Err(Error::InvalidInput(format!(
                "days must be 1 to 366, not {days}"
            )));
        }
        let tz = self.config.display_timezone();
        let from = from.unwrap_or_else(|| self.today());
        agenda::agenda(&self.store(), tz, from, days, self.clock.now())
    }

    pub fn appointment(&self, id: &str) -> Result<Option<Appointment>, Error> {
        self.store().appointment(id)
    }

    pub fn status(&self) -> Result<StatusView, Error> {
        let store = self.store();
        let account = store.account()?;
        let last = store.last_synced_at()?;
        let tz = self.config.display_timezone();
        Ok(StatusView {
            account: AccountStatus {
                signed_in: account.is_some(),
                upn: account.as_ref().map(|a| a.upn.clone()),
                display_name: account.and_then(|a| a.display_name),
                demo: self.demo,
            },
            sync: SyncStatus {
                state: if last.is_some() {
                    SyncPhase::Idle
                } else {
                    SyncPhase::Never
                },
                last_synced_at: last.map(|t| t.with_timezone(&tz).to_rfc3339()),
                message: None,
            },
        })
    }

    /// Stores a complete snapshot of one calendar as Graph returned it (the calendar resource
    /// and its calendarView pages), replacing what was stored for it. Demo mode loads the
    /// emulator's mailbox this way until delta sync lands.
    pub fn load_calendar_snapshot(
        &self,
        account: &Account,
        calendar_json: serde_json::Value,
        pages: &[Vec<u8>],
    ) -> Result<ApplyStats, Error> {
        let calendar = parse_calendar(calendar_json)?;
        let mut appointments = Vec::new();
        for page in pages {
            let view = CalendarView::parse(&calendar.id, page)?;
            for (id, reason) in &view.rejected {
                tracing::warn!(calendar = %calendar.id, ?id, %reason, "skipped an event the server sent in a form Presently cannot use");
            }
            appointments.extend(view.changes.into_iter().filter_map(|c| match c {
                EventChange::Upsert(a) => Some(*a),
                EventChange::Removed { .. } => None,
            }));
        }
        let mut store = self.store();
        store.set_account(account)?;
        let mut calendars = store.calendars()?;
        calendars.retain(|c| c.id != calendar.id);
        calendars.push(calendar.clone());
        store.set_calendars(&calendars)?;
        let state = SyncState {
            last_synced_at: Some(self.clock.now()),
            ..Default::default()
        };
        store.replace_calendar(&calendar.id, &appointments, &state)
    }
}
