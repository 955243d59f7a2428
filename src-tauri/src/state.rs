//! [`Shell`]: what the app keeps in Tauri's managed state. It holds the engine, the demo
//! account (in demo mode) and the little the shell itself must remember: whether a sync is
//! running, the last sync error, the tray model last shown and whether Quit was chosen.

use crate::demo::DemoAccount;
use crate::tray::{self, TrayMenu};
use presently_engine::engine::SyncPhase;
use presently_engine::{ApiError, Engine, ErrorCode, StatusView};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// Event: the store changed; the UI reloads the agenda. No payload.
pub const AGENDA_CHANGED: &str = "agenda-changed";
/// Event: the status changed; payload [`StatusView`].
pub const STATUS_CHANGED: &str = "status-changed";

pub struct Shell {
    /// The engine, or why it could not be opened (a store from a newer version, say):
    /// every command then answers with that error and the UI shows it.
    engine: Result<Arc<Engine>, ApiError>,
    demo: Option<DemoAccount>,
    activity: Mutex<Activity>,
    /// One sync at a time.
    sync_lock: tokio::sync::Mutex<()>,
    tray_shown: Mutex<Option<TrayMenu>>,
    quitting: AtomicBool,
}

/// What the shell knows about syncing beyond the store.
#[derive(Debug, Default, Clone)]
struct Activity {
    syncing: bool,
    last_error: Option<ApiError>,
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
            demo,
            activity: Mutex::new(Activity {
                syncing: false,
                last_error: startup_error,
            }),
            sync_lock: tokio::sync::Mutex::new(()),
            tray_shown: Mutex::new(None),
            quitting: AtomicBool::new(false),
        }
    }

    pub fn engine(&self) -> Result<&Arc<Engine>, ApiError> {
        self.engine.as_ref().map_err(Clone::clone)
    }

    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    /// The engine's status with what the shell knows on top: a sync under way, or the
    /// last sync's failure.
    pub fn status(&self) -> Result<StatusView, ApiError> {
        let mut status = self.engine()?.status()?;
        let activity = lock(&self.activity).clone();
        overlay(&mut status, &activity);
        Ok(status)
    }

    /// Fetches the calendar again, then tells the UI and the tray: from the emulator in
    /// demo mode, else with the signed-in account (`not_signed_in` when there is none).
    pub async fn sync<R: Runtime>(&self, app: &AppHandle<R>) -> Result<(), ApiError> {
        let engine = Arc::clone(self.engine()?);
        if self.demo.is_none() && !engine.status()?.account.signed_in {
            return Err(ApiError::new(
                ErrorCode::NotSignedIn,
                "Not signed in: sign in to Microsoft 365 to sync your calendar.",
            ));
        }
        let _one_at_a_time = self.sync_lock.lock().await;
        lock(&self.activity).syncing = true;
        self.publish_status(app);

        let result = match &self.demo {
            Some(demo) => {
                async {
                    let token = demo.token()?;
                    let summary = engine.fetch_snapshot(demo.graph(), &token).await?;
                    tracing::info!(?summary, "demo sync finished");
                    Ok(())
                }
                .await
            }
            None => engine.sync_now().await.map(|report| {
                tracing::info!(?report, "sync finished");
            }),
        }
        .map_err(ApiError::from);

        {
            let mut activity = lock(&self.activity);
            activity.syncing = false;
            activity.last_error = result.as_ref().err().cloned();
        }
        match &result {
            Ok(()) => {
                if let Err(e) = app.emit(AGENDA_CHANGED, ()) {
                    tracing::warn!(error = %e, "cannot emit {AGENDA_CHANGED}");
                }
            }
            Err(e) => tracing::warn!(code = ?e.code, message = %e.message, "sync failed"),
        }
        self.publish_status(app);
        result
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

fn overlay(status: &mut StatusView, activity: &Activity) {
    if activity.syncing {
        status.sync.state = SyncPhase::Syncing;
        status.sync.message = None;
    } else if let Some(err) = &activity.last_error {
        status.sync.state = if err.code == ErrorCode::Network {
            SyncPhase::Offline
        } else {
            SyncPhase::Error
        };
        status.sync.message = Some(err.message.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presently_engine::engine::{AccountStatus, SyncStatus};

    fn idle() -> StatusView {
        StatusView {
            account: AccountStatus {
                signed_in: true,
                upn: None,
                display_name: None,
                demo: true,
            },
            sync: SyncStatus {
                state: SyncPhase::Idle,
                last_synced_at: None,
                message: None,
            },
        }
    }

    #[test]
    fn a_running_sync_shows_as_syncing() {
        let mut s = idle();
        overlay(
            &mut s,
            &Activity {
                syncing: true,
                last_error: Some(ApiError::new(ErrorCode::Server, "old")),
            },
        );
        assert_eq!(s.sync.state, SyncPhase::Syncing);
        assert_eq!(s.sync.message, None);
    }

    #[test]
    fn a_failed_sync_shows_offline_or_error_with_its_message() {
        let mut s = idle();
        overlay(
            &mut s,
            &Activity {
                syncing: false,
                last_error: Some(ApiError::new(ErrorCode::Network, "cannot reach host")),
            },
        );
        assert_eq!(s.sync.state, SyncPhase::Offline);
        assert_eq!(s.sync.message.as_deref(), Some("cannot reach host"));

        let mut s = idle();
        overlay(
            &mut s,
            &Activity {
                syncing: false,
                last_error: Some(ApiError::new(ErrorCode::Server, "503")),
            },
        );
        assert_eq!(s.sync.state, SyncPhase::Error);
    }

    #[test]
    fn nothing_to_add_leaves_the_engine_status_alone() {
        let mut s = idle();
        overlay(&mut s, &Activity::default());
        assert_eq!(s, idle());
    }

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
