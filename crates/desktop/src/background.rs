//! The background work both shells run — sync on the engine's cadence, presence automation,
//! reminders at their time, following presence automation's status, and keeping the tray
//! current — started, woken and stopped in one place.
//!
//! The shells differ only in how they show things: the window app through Tauri (events to
//! the webview, the Tauri tray, the notification plugin), the tray host through D-Bus (ksni,
//! freedesktop notifications). Each implements [`Integration`]; [`Background`] owns the loops
//! and what wakes them (the model is firezone's `GuiIntegration`). The loops only sleep and
//! hand over: what to do at each instant is decided by the engine.

use crate::presence::{RestoreAlert, RestoreOffer};
use crate::sync::{RoundEnd, RoundRedraws, SHOW_SYNCING_AFTER};
use presently_engine::presence::runtime::RuntimeOptions;
use presently_engine::reminders::Reminder;
use presently_engine::Engine;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// What showing a notification returns (the tray host talks D-Bus asynchronously).
pub type Shown<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Longest the tray loop sleeps without looking at the clock: tokio's timers do not count
/// time spent suspended, so a wake from sleep is noticed within this.
pub const TRAY_MAX_SLEEP: Duration = Duration::from_secs(300);

/// How a shell shows what the background work produces. Every method is called from a task
/// of the runtime [`Background::start`] was given, and must not block it.
pub trait Integration: Send + Sync + 'static {
    /// A sync round has been running for [`SHOW_SYNCING_AFTER`]: the status says "Syncing".
    fn sync_still_running(&self);
    /// A sync round ended (every round: the window's status line says when the last one
    /// was). `end` says whether the store changed and whether the tray must redraw.
    fn sync_round_ended(&self, end: RoundEnd);
    /// A sync under way made part of the window visible (a first sync shows the next two
    /// weeks before it has read the rest): the agenda reloads.
    fn sync_filled(&self);
    /// Presence automation's status changed (the status line and the tray follow it).
    fn presence_status_changed(&self);
    /// Shows a reminder that is due, with its body text.
    fn show_reminder(&self, reminder: Reminder, body: String) -> Shown<'_>;
    /// Shows that a restore keeps failing.
    fn show_alert(&self, alert: RestoreAlert) -> Shown<'_>;
    /// Offers "Restore now" (a meeting's call ended early): its action calls
    /// [`crate::presence::restore_now`] with the offer's appointment. A shell that cannot
    /// show it logs it (the appointment's end still restores).
    fn offer_restore(&self, offer: RestoreOffer) -> Shown<'_> {
        tracing::info!(appointment = %offer.appointment_id, "{}", offer.summary);
        Box::pin(std::future::ready(()))
    }
    /// The tray shows what is true now, if that differs from what it shows.
    fn refresh_tray(&self) -> Shown<'_>;
}

/// Which loops a shell wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loops {
    /// Reminders are shown (the tray host without a notification server leaves them to
    /// the window app, which shows them late rather than never).
    pub reminders: bool,
    /// A tray icon exists to keep current.
    pub tray: bool,
}

impl Default for Loops {
    fn default() -> Self {
        Self {
            reminders: true,
            tray: true,
        }
    }
}

/// What wakes and stops the loops. Stop permits are stored (`notify_one`), so a loop stops
/// even when it is not waiting at that moment.
#[derive(Default)]
struct Wakes {
    sync_now: Arc<Notify>,
    sync_stop: Arc<Notify>,
    fills_stop: Arc<Notify>,
    presence_store_changed: Arc<Notify>,
    /// The running presence runtime's stop; replaced when it restarts.
    presence_stop: Mutex<Arc<Notify>>,
    reminders_changed: Arc<Notify>,
    reminders_stop: Arc<Notify>,
    follow_stop: Arc<Notify>,
    tray_changed: Arc<Notify>,
    tray_stop: Arc<Notify>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The background work of one shell (see the module's documentation).
pub struct Background {
    engine: Arc<Engine>,
    wakes: Arc<Wakes>,
    /// Set by [`Background::start`]: where restarted loops run.
    started: Mutex<Option<(Handle, Arc<dyn Integration>)>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopping: AtomicBool,
    /// How presence automation paces itself (the defaults; shorter in tests).
    presence_options: Mutex<RuntimeOptions>,
}

impl Background {
    /// The supervisor for `engine`, not started yet: wakes asked for before the start (a
    /// sign-in asking for a sync) are kept.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            wakes: Arc::new(Wakes::default()),
            started: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            presence_options: Mutex::new(RuntimeOptions::default()),
        }
    }

    /// How presence automation paces itself from its next start (tests on the wall clock
    /// shorten its intervals).
    pub fn set_presence_options(&self, options: RuntimeOptions) {
        *lock(&self.presence_options) = options;
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Starts the loops `loops` names on `runtime`, showing through `integration`. A second
    /// start does nothing.
    pub fn start(&self, runtime: &Handle, integration: Arc<dyn Integration>, loops: Loops) {
        {
            let mut started = lock(&self.started);
            if started.is_some() || self.stopping.load(Ordering::SeqCst) {
                return;
            }
            *started = Some((runtime.clone(), integration.clone()));
        }
        let engine = &self.engine;
        let wakes = &self.wakes;
        let mut tasks = vec![
            runtime.spawn(sync_loop(
                engine.clone(),
                wakes.clone(),
                integration.clone(),
            )),
            runtime.spawn(follow_fills(
                engine.clone(),
                wakes.clone(),
                integration.clone(),
            )),
            runtime.spawn(follow_presence(
                engine.clone(),
                wakes.clone(),
                integration.clone(),
            )),
        ];
        if loops.reminders {
            tasks.push(runtime.spawn(reminders_loop(
                engine.clone(),
                wakes.clone(),
                integration.clone(),
            )));
        }
        if loops.tray {
            tasks.push(runtime.spawn(tray_loop(engine.clone(), wakes.clone(), integration)));
        }
        tasks.push(runtime.spawn(self.presence_task()));
        tracing::debug!(?loops, "background work started");
        lock(&self.tasks).extend(tasks);
    }

    fn presence_task(&self) -> impl Future<Output = ()> + Send + 'static {
        let stop = lock(&self.wakes.presence_stop).clone();
        let options = *lock(&self.presence_options);
        self.engine.clone().run_presence_with(
            stop,
            self.wakes.presence_store_changed.clone(),
            options,
        )
    }

    /// Syncs now (Sync now, a sign-in, the settings changed what is synced).
    pub fn sync_now(&self) {
        self.wakes.sync_now.notify_one();
    }

    /// The store changed outside the sync loop (a sign-in's first sync, a sync the CLI ran):
    /// presence automation, reminders and the tray look again.
    pub fn store_changed(&self) {
        self.wakes.presence_store_changed.notify_one();
        self.wakes.reminders_changed.notify_one();
        self.wakes.tray_changed.notify_one();
    }

    /// Presence automation was paused or resumed: it and the tray look again.
    pub fn presence_changed(&self) {
        self.wakes.presence_store_changed.notify_one();
        self.wakes.tray_changed.notify_one();
    }

    /// Something the tray shows changed (a take-over, the settings).
    pub fn tray_changed(&self) {
        self.wakes.tray_changed.notify_one();
    }

    /// The settings presence automation depends on changed: the running runtime stops (a
    /// block under way keeps its journal, which the next run restores or resumes) and a new
    /// one starts with the new policy.
    pub fn restart_presence(&self) {
        let old = std::mem::replace(
            &mut *lock(&self.wakes.presence_stop),
            Arc::new(Notify::new()),
        );
        old.notify_one();
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Some((runtime, _)) = lock(&self.started).clone() else {
            return;
        };
        let task = runtime.spawn(self.presence_task());
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        tracing::info!("presence automation restarted with the new settings");
    }

    /// Whether [`Background::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Asks every loop to stop and waits for them at most `grace`; true when all stopped.
    /// A presence block under way keeps its journal: whoever runs next finishes it.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.stop_now();
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        let stopped = tokio::time::timeout(grace, join_all(tasks)).await.is_ok();
        if !stopped {
            tracing::warn!(?grace, "the background loops did not stop in time");
        }
        stopped
    }

    /// Asks every loop to stop without waiting (the process is about to exit).
    pub fn stop_now(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let wakes = &self.wakes;
        wakes.sync_stop.notify_one();
        wakes.fills_stop.notify_one();
        lock(&wakes.presence_stop).notify_one();
        wakes.reminders_stop.notify_one();
        wakes.follow_stop.notify_one();
        wakes.tray_stop.notify_one();
    }
}

async fn join_all(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        if let Err(e) = task.await {
            if e.is_panic() {
                tracing::error!(error = %e, "a background loop panicked");
            }
        }
    }
}

/// Syncs on the engine's cadence. "Syncing" shows only for a round still running after
/// [`SHOW_SYNCING_AFTER`], and a round that changes nothing and ends as the last one did
/// redraws nothing (issue 25: idle cost); a round that changed the store wakes the others.
async fn sync_loop(engine: Arc<Engine>, wakes: Arc<Wakes>, integration: Arc<dyn Integration>) {
    let clock = engine.clock();
    let rounds = Arc::new(RoundRedraws::default());
    presently_engine::engine::sync_loop::run(
        engine,
        clock,
        wakes.sync_now.clone(),
        wakes.sync_stop.clone(),
        || {
            let round = rounds.started();
            let (rounds, wakes, integration) = (rounds.clone(), wakes.clone(), integration.clone());
            tokio::spawn(async move {
                tokio::time::sleep(SHOW_SYNCING_AFTER).await;
                if rounds.still_running(round) {
                    wakes.tray_changed.notify_one();
                    integration.sync_still_running();
                }
            });
        },
        |result| {
            let end = rounds.finished(result);
            if end.store_changed {
                wakes.presence_store_changed.notify_one();
                wakes.reminders_changed.notify_one();
            }
            if end.redraw {
                wakes.tray_changed.notify_one();
            }
            integration.sync_round_ended(end);
        },
    )
    .await;
}

/// Follows the parts of the window a sync under way makes visible: the agenda, reminders,
/// presence automation and the tray look at each before the sync ends.
async fn follow_fills(engine: Arc<Engine>, wakes: Arc<Wakes>, integration: Arc<dyn Integration>) {
    let mut fills = engine.sync_fills();
    loop {
        tokio::select! {
            changed = fills.changed() => if changed.is_err() { return },
            _ = wakes.fills_stop.notified() => return,
        }
        wakes.presence_store_changed.notify_one();
        wakes.reminders_changed.notify_one();
        wakes.tray_changed.notify_one();
        integration.sync_filled();
    }
}

/// Shows reminders at their time (the engine remembers which were shown).
async fn reminders_loop(engine: Arc<Engine>, wakes: Arc<Wakes>, integration: Arc<dyn Integration>) {
    crate::reminders::run(
        engine,
        &wakes.reminders_changed,
        &wakes.reminders_stop,
        |reminder, body| integration.show_reminder(reminder, body),
    )
    .await;
}

/// Follows presence automation: the shell redraws when its status changes, a restore that
/// keeps failing is a notification, and so is a meeting whose call ended early ("Restore
/// now").
async fn follow_presence(
    engine: Arc<Engine>,
    wakes: Arc<Wakes>,
    integration: Arc<dyn Integration>,
) {
    crate::presence::follow(
        engine,
        &wakes.follow_stop,
        || {
            wakes.tray_changed.notify_one();
            integration.presence_status_changed();
        },
        |alert| integration.show_alert(alert),
        |offer| integration.offer_restore(offer),
    )
    .await;
}

/// Keeps the tray current: sleeps until the next start, end or countdown minute, or until
/// something changed (at most [`TRAY_MAX_SLEEP`]), then lets the shell redraw it if its model
/// changed.
async fn tray_loop(engine: Arc<Engine>, wakes: Arc<Wakes>, integration: Arc<dyn Integration>) {
    loop {
        let wait = crate::tray::next_change_for(&engine)
            .and_then(|at| (at - engine.now()).to_std().ok())
            .unwrap_or(TRAY_MAX_SLEEP)
            .min(TRAY_MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wakes.tray_changed.notified() => {}
            _ = wakes.tray_stop.notified() => return,
        }
        integration.refresh_tray().await;
    }
}
