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

/// A named account's engine and the supervisor of its own loops.
struct NamedAccount {
    name: String,
    engine: Arc<Engine>,
    background: Arc<Background>,
}

/// The named accounts beside the default one (shared with the tray loop, which sleeps
/// until the merged agenda's next change).
type Named = Arc<Mutex<Vec<NamedAccount>>>;

/// The background work of one shell (see the module's documentation).
///
/// Two or more accounts: the default account's loops run here; each named account added
/// with [`Background::add_account`] gets a supervisor of its own (sync, presence
/// automation with its own settings, reminders, following its presence status) that shows
/// through the same shell, while the one tray follows the agenda merged across accounts.
pub struct Background {
    engine: Arc<Engine>,
    named: Named,
    wakes: Arc<Wakes>,
    /// Set by [`Background::start`]: where restarted loops run.
    started: Mutex<Option<(Handle, Arc<dyn Integration>)>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopping: AtomicBool,
    /// How presence automation paces itself (the defaults; shorter in tests).
    presence_options: Mutex<RuntimeOptions>,
    /// The loops the shell asked for (the named accounts' follow, without the tray).
    loops: Mutex<Loops>,
}

impl Background {
    /// The supervisor for `engine`, not started yet: wakes asked for before the start (a
    /// sign-in asking for a sync) are kept.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            named: Arc::default(),
            wakes: Arc::new(Wakes::default()),
            started: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            presence_options: Mutex::new(RuntimeOptions::default()),
            loops: Mutex::new(Loops::default()),
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

    /// Runs a named account's background work beside the default account's (at once if
    /// started, else at the start). An account of that name already here is replaced
    /// (its loops stop; a presence block under way keeps its journal for the new ones).
    pub fn add_account(&self, name: &str, engine: Arc<Engine>) {
        let background = Arc::new(Background::new(engine.clone()));
        *lock(&background.presence_options) = *lock(&self.presence_options);
        if let Some((runtime, integration)) = lock(&self.started).clone() {
            background.start(
                &runtime,
                Arc::new(NamedIntegration {
                    inner: integration,
                    account: name.to_owned(),
                    tray_changed: self.wakes.tray_changed.clone(),
                }),
                self.named_loops(),
            );
        }
        let old = {
            let mut named = lock(&self.named);
            let old = named
                .iter()
                .position(|a| a.name == name)
                .map(|i| named.remove(i));
            named.push(NamedAccount {
                name: name.to_owned(),
                engine,
                background,
            });
            named.sort_by(|a, b| a.name.cmp(&b.name));
            old
        };
        if let Some(old) = old {
            old.background.stop_now();
        }
        tracing::info!(account = %name, "the account's background work runs");
        self.tray_changed();
    }

    /// Stops a named account's background work and forgets it (signed out and removed);
    /// whether it was here.
    pub async fn remove_account(&self, name: &str, grace: Duration) -> bool {
        let removed = {
            let mut named = lock(&self.named);
            named
                .iter()
                .position(|a| a.name == name)
                .map(|i| named.remove(i))
        };
        let Some(removed) = removed else {
            return false;
        };
        removed.background.stop(grace).await;
        tracing::info!(account = %name, "the account's background work stopped");
        self.tray_changed();
        true
    }

    /// Every account: the default one first (named `default`), then the named ones by
    /// name.
    pub fn accounts(&self) -> Vec<(String, Arc<Engine>)> {
        accounts_of(&self.engine, &self.named)
    }

    /// The engine of account `name` (`default` or none: the default account's).
    pub fn engine_for(&self, name: Option<&str>) -> Option<Arc<Engine>> {
        match name {
            None | Some(presently_engine::paths::DEFAULT_ACCOUNT) => Some(self.engine.clone()),
            Some(name) => lock(&self.named)
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.engine.clone()),
        }
    }

    /// The engine of the account whose store holds appointment `id` (see
    /// [`crate::accounts::with_appointment`]).
    pub fn engine_with_appointment(&self, id: &str) -> Arc<Engine> {
        crate::accounts::with_appointment(&self.accounts(), id)
            .unwrap_or_else(|| self.engine.clone())
    }

    /// The agenda the window and the tray show: merged across the accounts signed in, in
    /// the default account's zone and days (see [`crate::accounts::merged_agenda`]).
    pub fn agenda(
        &self,
        from: Option<chrono::NaiveDate>,
        days: Option<u32>,
    ) -> Result<presently_engine::agenda::AgendaView, presently_engine::Error> {
        crate::accounts::merged_agenda(
            &self.accounts(),
            self.engine.config().display_timezone(),
            from,
            days,
        )
    }

    /// The tray for now (see [`crate::tray::for_engine`]), its next meeting taken from
    /// every account signed in.
    pub fn tray_menu(
        &self,
        status: &presently_engine::engine::StatusView,
        privacy_locked: bool,
    ) -> crate::tray::TrayMenu {
        crate::tray::for_agenda(
            &self.engine,
            self.agenda(None, None).ok(),
            status,
            privacy_locked,
        )
    }

    fn named_loops(&self) -> Loops {
        Loops {
            reminders: lock(&self.loops).reminders,
            tray: false,
        }
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
        *lock(&self.loops) = loops;
        for account in lock(&self.named).iter() {
            account.background.start(
                runtime,
                Arc::new(NamedIntegration {
                    inner: integration.clone(),
                    account: account.name.clone(),
                    tray_changed: self.wakes.tray_changed.clone(),
                }),
                self.named_loops(),
            );
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
            tasks.push(runtime.spawn(tray_loop(
                engine.clone(),
                self.named.clone(),
                wakes.clone(),
                integration,
            )));
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
        for account in lock(&self.named).iter() {
            account.background.sync_now();
        }
    }

    /// The store changed outside the sync loop (a sign-in's first sync, a sync the CLI ran):
    /// presence automation, reminders and the tray look again.
    pub fn store_changed(&self) {
        self.wakes.presence_store_changed.notify_one();
        self.wakes.reminders_changed.notify_one();
        self.wakes.tray_changed.notify_one();
        for account in lock(&self.named).iter() {
            account.background.store_changed();
        }
    }

    /// Presence automation was paused or resumed: it and the tray look again.
    pub fn presence_changed(&self) {
        self.wakes.presence_store_changed.notify_one();
        self.wakes.tray_changed.notify_one();
        for account in lock(&self.named).iter() {
            account.background.presence_changed();
        }
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
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        for account in lock(&self.named).iter() {
            tasks.extend(std::mem::take(&mut *lock(&account.background.tasks)));
        }
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
        for account in lock(&self.named).iter() {
            account.background.stop_now();
        }
    }
}

fn accounts_of(engine: &Arc<Engine>, named: &Named) -> Vec<(String, Arc<Engine>)> {
    let mut all = vec![(
        presently_engine::paths::DEFAULT_ACCOUNT.to_owned(),
        engine.clone(),
    )];
    all.extend(
        lock(named)
            .iter()
            .map(|a| (a.name.clone(), a.engine.clone())),
    );
    all
}

/// How a named account's loops show through the shell: as the default account's do, but
/// the one tray (the default supervisor's) is woken instead of redrawn per account, and
/// "Restore now" is not offered, since the shells restore on the default account's
/// engine (the appointment's end still restores).
struct NamedIntegration {
    inner: Arc<dyn Integration>,
    account: String,
    tray_changed: Arc<Notify>,
}

impl Integration for NamedIntegration {
    fn sync_still_running(&self) {
        // The status line is the default account's: a named account's round does not
        // make it say "Syncing".
    }
    fn sync_round_ended(&self, end: RoundEnd) {
        tracing::debug!(account = %self.account, ?end, "the account's sync round ended");
        if end.store_changed || end.redraw {
            self.tray_changed.notify_one();
        }
        if end.store_changed {
            // The window reloads the (merged) agenda.
            self.inner.sync_filled();
        }
    }
    fn sync_filled(&self) {
        self.tray_changed.notify_one();
        self.inner.sync_filled();
    }
    fn presence_status_changed(&self) {
        self.tray_changed.notify_one();
    }
    fn show_reminder(&self, reminder: Reminder, body: String) -> Shown<'_> {
        self.inner.show_reminder(reminder, body)
    }
    fn show_alert(&self, alert: RestoreAlert) -> Shown<'_> {
        self.inner.show_alert(alert)
    }
    fn offer_restore(&self, offer: RestoreOffer) -> Shown<'_> {
        tracing::info!(account = %self.account, appointment = %offer.appointment_id, "{}", offer.summary);
        Box::pin(std::future::ready(()))
    }
    fn refresh_tray(&self) -> Shown<'_> {
        self.tray_changed.notify_one();
        Box::pin(std::future::ready(()))
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
async fn tray_loop(
    engine: Arc<Engine>,
    named: Named,
    wakes: Arc<Wakes>,
    integration: Arc<dyn Integration>,
) {
    loop {
        let agenda = crate::accounts::merged_agenda(
            &accounts_of(&engine, &named),
            engine.config().display_timezone(),
            None,
            None,
        )
        .ok();
        let wait = crate::tray::next_change(agenda.as_ref(), engine.now())
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
