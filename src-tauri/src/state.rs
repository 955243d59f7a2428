//! [`Shell`]: what the app keeps in Tauri's managed state. It holds the engine, the demo
//! account (in demo mode) and the little the shell itself must remember: whether a sync is
//! running, the last sync error, the tray model last shown and whether Quit was chosen.

use crate::demo::DemoAccount;
use crate::tray::{self, TrayMenu};
use presently_engine::engine::SyncReport;
use presently_engine::{ApiError, Engine, Error, ErrorCode, StatusView};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::Notify;

/// Event: the store changed; the UI reloads the agenda. No payload.
pub const AGENDA_CHANGED: &str = "agenda-changed";
/// Event: the status changed; payload [`StatusView`].
pub const STATUS_CHANGED: &str = "status-changed";

pub struct Shell {
    /// The engine, or why it could not be opened (a store from a newer version, say):
    /// every command then answers with that error and the UI shows it.
    engine: Result<Arc<Engine>, ApiError>,
    /// A broken configuration: the engine runs on the defaults and the status says why.
    startup_error: Option<ApiError>,
    /// Keeps the embedded emulator running in demo mode.
    _demo: Option<DemoAccount>,
    /// Wakes the sync loop: Sync now, a sign-in.
    sync_now: Arc<Notify>,
    stop: Arc<Notify>,
    /// Wakes the tray: the agenda changed.
    pub agenda_changed: Notify,
    tray_shown: Mutex<Option<TrayMenu>>,
    quitting: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shell {
    pub fn new(
        engine: Result<Engine, ApiError>,
        demo: Option<DemoAccount>,
        startup_error: Option<ApiError>,
    ) -> Self {
        Self {
            engine: engine.map(Arc::new),
            startup_error,
            _demo: demo,
            sync_now: Arc::new(Notify::new()),
            stop: Arc::new(Notify::new()),
            agenda_changed: Notify::new(),
            tray_shown: Mutex::new(None),
            quitting: AtomicBool::new(false),
        }
    }

    pub fn engine(&self) -> Result<&Arc<Engine>, ApiError> {
        self.engine.as_ref().map_err(Clone::clone)
    }

    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
        self.stop.notify_one();
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    /// The engine's status (it knows whether a sync runs, failed, or is offline), with a
    /// configuration error on top.
    pub fn status(&self) -> Result<StatusView, ApiError> {
        let mut status = self.engine()?.status()?;
        if let Some(err) = &self.startup_error {
            status.sync.state = presently_engine::engine::SyncPhase::Error;
            status.sync.message = Some(err.message.clone());
        }
        Ok(status)
    }

    /// Asks the sync loop for a sync now; `not_signed_in` when nobody is.
    pub fn request_sync(&self) -> Result<(), ApiError> {
        if !self.status()?.account.signed_in {
            return Err(ApiError::new(
                ErrorCode::NotSignedIn,
                "Not signed in: sign in to Microsoft 365 to sync your calendar.",
            ));
        }
        self.sync_now.notify_one();
        Ok(())
    }

    /// Demo mode: sign in to the embedded emulator through the real loopback flow, then a
    /// first sync, so the window opens on the demo week.
    pub async fn demo_sign_in_and_sync<R: Runtime>(
        &self,
        app: &AppHandle<R>,
    ) -> Result<(), ApiError> {
        let engine = Arc::clone(self.engine()?);
        engine.sign_in_to_emulator().await?;
        let result = engine.sync_now().await;
        self.after_sync(app, &result);
        result.map(|_| ()).map_err(ApiError::from)
    }

    /// Syncs on the engine's cadence until Quit; tells the UI and the tray about each sync.
    pub async fn run_sync_loop<R: Runtime>(&self, app: &AppHandle<R>) {
        let Ok(engine) = self.engine().cloned() else {
            return;
        };
        let clock = engine.clock();
        presently_engine::sync::cadence::run(
            engine,
            clock,
            self.sync_now.clone(),
            self.stop.clone(),
            || self.publish_status(app),
            |result| self.after_sync(app, result),
        )
        .await;
    }

    fn after_sync<R: Runtime>(&self, app: &AppHandle<R>, result: &Result<SyncReport, Error>) {
        match result {
            Ok(report) => {
                tracing::info!(
                    changes = report.changes,
                    requests = report.requests,
                    "sync finished"
                );
                if report.changes > 0 || report.calendars.iter().any(|c| c.kind == "full") {
                    if let Err(e) = app.emit(AGENDA_CHANGED, ()) {
                        tracing::warn!(error = %e, "cannot emit {AGENDA_CHANGED}");
                    }
                    self.agenda_changed.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "sync failed"),
        }
        self.publish_status(app);
    }

    /// How long the tray may sleep: until the next appointment starts or ends, or the day
    /// changes.
    pub fn next_tray_change(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let engine = self.engine().ok()?;
        tray::next_change(engine.agenda(None, None).ok().as_ref(), engine.now())
    }

    /// Sends `status-changed` and brings the tray up to date.
    pub fn publish_status<R: Runtime>(&self, app: &AppHandle<R>) {
        match self.status() {
            Ok(status) => {
                if let Err(e) = app.emit(STATUS_CHANGED, &status) {
                    tracing::warn!(error = %e, "cannot emit {STATUS_CHANGED}");
                }
            }
            Err(e) => tracing::warn!(message = %e.message, "no status to publish"),
        }
        self.refresh_tray(app);
    }

    /// Rebuilds the tray menu if what it should show changed.
    pub fn refresh_tray<R: Runtime>(&self, app: &AppHandle<R>) {
        let model = self.tray_model();
        {
            let mut shown = lock(&self.tray_shown);
            if shown.as_ref() == Some(&model) {
                return;
            }
            *shown = Some(model.clone());
        }
        let handle = app.clone();
        let result = app.run_on_main_thread(move || {
            let Some(icon) = handle.tray_by_id(tray::TRAY_ID) else {
                return;
            };
            if let Err(e) = tray::apply(&handle, &icon, &model) {
                tracing::warn!(error = %e, "cannot update the tray menu");
                // Try again next time.
                if let Some(shell) = handle.try_state::<Shell>() {
                    *lock(&shell.tray_shown) = None;
                }
            }
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot reach the main thread to update the tray");
        }
    }

    /// The tray model for now: the status and the next appointments.
    pub fn tray_model(&self) -> TrayMenu {
        let status = match self.status() {
            Ok(s) => s,
            Err(e) => {
                return TrayMenu {
                    tooltip: format!("Presently — {}", e.message),
                    items: vec![
                        tray::TrayItem::Label("Presently cannot open its data".to_owned()),
                        tray::TrayItem::Separator,
                        tray::TrayItem::Action {
                            action: tray::TrayAction::OpenWindow,
                            title: "Open Presently".to_owned(),
                        },
                        tray::TrayItem::Action {
                            action: tray::TrayAction::Quit,
                            title: "Quit Presently".to_owned(),
                        },
                    ],
                }
            }
        };
        let (agenda, now) = match self.engine() {
            Ok(engine) => (engine.agenda(None, None).ok(), engine.now()),
            Err(_) => (None, chrono::Utc::now()),
        };
        tray::build(&status, agenda.as_ref(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_outside_demo_mode_is_not_signed_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(presently_engine::EngineSetup {
            paths: presently_engine::paths::Paths::under(dir.path()),
            config: Default::default(),
            clock: Arc::new(presently_engine::SystemClock),
            demo: false,
        })
        .expect("engine");
        let shell = Shell::new(Ok(engine), None, None);
        assert!(!shell.status().expect("status").account.signed_in);
        let menu = shell.tray_model();
        assert_eq!(menu.tooltip, "Presently — signed out");
    }
}
