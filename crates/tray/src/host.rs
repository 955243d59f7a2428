//! The tray host's life: take the owner lock, run sync, presence automation, reminders and
//! the tray until Quit, a signal, or the window app asking for the work back.

use crate::icons::Icons;
use crate::menu::HostTray;
use crate::notifications::{Invoked, Notifier};
use crate::shortcut::JoinShortcut;
use ksni::TrayMethods;
use presently_desktop::background::{Background, Integration, Loops, Shown};
use presently_desktop::handoff::{self, OwnerLock};
use presently_desktop::presence::{RestoreAlert, RestoreOffer};
use presently_desktop::settings::Provisioning;
use presently_desktop::shortcut::{join_next, JoinNext};
use presently_desktop::sync::RoundEnd;
use presently_desktop::tray::{self, TrayAction, TrayMenu};
use presently_engine::paths::{Paths, DEFAULT_ACCOUNT};
use presently_engine::reminders::Reminder;
use presently_engine::{Engine, EngineSetup, OpenKind, SystemClock};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// How long a host started by the closing window app waits for it to exit (and so let go
/// of the lock).
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How many control-socket connections are read at once.
const CONTROL_CONNECTIONS: usize = 4;
/// How long the loops get to finish when the host stops.
const STOP_GRACE: Duration = Duration::from_secs(2);

pub fn main() -> ExitCode {
    let wait = std::env::args().skip(1).any(|a| a == handoff::WAIT_ARG);
    let paths = Paths::resolve(None);
    let _log = presently_engine::logging::init(&paths.log_dir, "presently-tray", false);
    let lock = if wait {
        OwnerLock::acquire_within(&paths.data_dir, LOCK_WAIT)
    } else {
        OwnerLock::try_acquire(&paths.data_dir)
    };
    let lock = match lock {
        Ok(Some(lock)) => lock,
        Ok(None) if wait => {
            tracing::error!(waited = ?LOCK_WAIT, "the window app did not let go of the work");
            return ExitCode::FAILURE;
        }
        Ok(None) => {
            let owner = handoff::owner_pid(&paths.data_dir);
            tracing::info!(?owner, "Presently already runs; leaving the tray to it");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            tracing::error!(error = %e, dir = %paths.data_dir.display(), "cannot take the owner lock");
            eprintln!("presently-tray: cannot take the owner lock: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(waited_for_lock = wait, data_dir = %paths.data_dir.display(), "tray host starting");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(paths, lock))
}

/// Starts the window app beside this program (`--settings` opens it there).
fn open_window(args: &[&str]) {
    let Some(app) = handoff::sibling(handoff::WINDOW_APP) else {
        tracing::error!("presently-app is not installed beside presently-tray");
        return;
    };
    // A process group of its own: it outlives this one.
    match tokio::process::Command::new(&app)
        .args(args)
        .process_group(0)
        .spawn()
    {
        Ok(_child) => tracing::info!(?args, "starting the window app"),
        Err(e) => tracing::error!(error = %e, app = %app.display(), "cannot start the window app"),
    }
}

/// Opens the appointment's Outlook or meeting link (the engine checks the host).
fn open_link(engine: &Engine, id: &str, kind: OpenKind) {
    let url = match engine.open_target(id, kind) {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(error = %e, ?kind, "cannot open the appointment");
            return;
        }
    };
    tracing::info!(host = url.host_str().unwrap_or(""), ?kind, "opening a link");
    if let Err(e) = tokio::process::Command::new("xdg-open")
        .arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .spawn()
    {
        tracing::warn!(error = %e, "cannot run xdg-open");
    }
}

/// Why the host ends.
enum Exit {
    /// Quit, a signal, or signed out.
    Quit,
    /// The window app asked for the work: answer once the lock is free.
    HandOver(tokio::net::UnixStream),
}

async fn run(paths: Paths, lock: OwnerLock) -> ExitCode {
    let mut provisioning = Provisioning::open(&paths);
    let engine = match Engine::open(EngineSetup {
        paths: paths.clone(),
        config: provisioning.config().clone(),
        clock: Arc::new(SystemClock),
        demo: false,
    }) {
        Ok(engine) => Arc::new(engine),
        Err(e) => {
            // The window says why.
            tracing::error!(error = %e, "cannot open the engine; opening the window");
            drop(lock);
            open_window(&[]);
            return ExitCode::FAILURE;
        }
    };
    let account = engine.status().map(|s| s.account).ok();
    if let Some(config) = provisioning.set_upn(account.as_ref().and_then(|a| a.upn.clone())) {
        if let Err(e) = engine.reconfigure(config) {
            tracing::warn!(error = %e, "cannot apply the settings of this account's group");
        }
    }
    if !account.is_some_and(|a| a.signed_in) {
        tracing::info!("nobody is signed in; opening the consent window");
        drop(lock);
        open_window(&[]);
        return ExitCode::SUCCESS;
    }
    // Shared with the tray's privacy toggle, which saves the user's settings.
    let provisioning = Arc::new(Mutex::new(provisioning));
    // The named accounts run beside the default one: each syncs and automates presence
    // with its own settings, and the tray's next meeting is taken from all of them. An
    // account added in the window app is here from the host's next start (the window app
    // takes the work over while it is open).
    let named = presently_desktop::accounts::open_all_named(&paths, engine.clock());
    let mut accounts = vec![(DEFAULT_ACCOUNT.to_owned(), engine.clone())];
    accounts.extend(named.into_iter().map(|n| (n.name, Arc::new(n.engine))));
    let accounts: Accounts = Arc::from(accounts);

    let socket = handoff::socket_path(&paths.data_dir);
    // Ours now that we hold the lock: a file left by a host that crashed goes. Requests are
    // read off this task (a slow client must not hold up the menu).
    let (handovers, mut handover_rx) = unbounded_channel::<tokio::net::UnixStream>();
    let control = match handoff::bind_control_socket(&paths.data_dir)
        .and_then(|l| Ok((handoff::own_uid(&socket)?, l)))
    {
        Ok((uid, listener)) => Some(tokio::spawn(control_socket(listener, uid, handovers))),
        Err(e) => {
            tracing::error!(error = %e, path = %socket.display(), "cannot listen for the window app");
            None
        }
    };

    let (actions, mut action_rx) = unbounded_channel::<TrayAction>();
    let (opens, mut open_rx) = unbounded_channel::<Invoked>();

    let model = current_model(&accounts, &provisioning);
    let tray = HostTray {
        model: model.clone(),
        actions,
        icons: Icons::load(),
    };
    // Assumed available: at login the panel may come up after us, and ksni shows the icon
    // once it does.
    let tray = match tray.assume_sni_available(true).spawn().await {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "no tray icon (no StatusNotifierItem host)");
            None
        }
    };
    let notifier = match Notifier::connect(opens).await {
        Ok(notifier) => Some(notifier),
        // Not taken, so the window app shows them (late) when it next runs.
        Err(e) => {
            tracing::warn!(error = %e, "no notification server; reminders wait for the window app");
            None
        }
    };
    let background = Background::new(engine.clone());
    for (name, named) in accounts.iter().skip(1) {
        background.add_account(name, named.clone());
    }
    background.start(
        &tokio::runtime::Handle::current(),
        Arc::new(HostIntegration {
            engine: engine.clone(),
            accounts: accounts.clone(),
            provisioning: provisioning.clone(),
            tray: tray.clone(),
            shown: tokio::sync::Mutex::new(model),
            notifier: notifier.clone(),
        }),
        Loops {
            reminders: notifier.is_some(),
            tray: tray.is_some(),
        },
    );
    let (presses, mut press_rx) = unbounded_channel::<()>();
    let shortcut = JoinShortcut::register(&engine.config().app.join_shortcut, presses);
    tracing::info!(
        tray = tray.is_some(),
        shortcut = shortcut.is_some(),
        "in the tray"
    );

    let exit = serve(
        &engine,
        &provisioning,
        &background,
        Channels {
            handovers: &mut handover_rx,
            actions: &mut action_rx,
            opens: &mut open_rx,
            presses: &mut press_rx,
        },
    )
    .await;
    // Let go of the key grab before the window app, taking over, registers the same one.
    drop(shortcut);

    background.stop(STOP_GRACE).await;
    if let Some(handle) = tray {
        handle.shutdown().await;
    }
    if let Some(control) = control {
        control.abort();
    }
    let _ = std::fs::remove_file(&socket);
    drop(lock);
    match exit {
        Exit::HandOver(mut stream) => {
            tracing::info!("handed the work to the window app");
            if let Err(e) = stream
                .write_all(format!("{}\n", handoff::HANDED_OVER).as_bytes())
                .await
            {
                tracing::warn!(error = %e, "cannot answer the window app");
            }
        }
        Exit::Quit => tracing::info!("tray host stopped"),
    }
    ExitCode::SUCCESS
}

/// What [`serve`] listens to besides signals.
struct Channels<'a> {
    handovers: &'a mut UnboundedReceiver<tokio::net::UnixStream>,
    actions: &'a mut UnboundedReceiver<TrayAction>,
    opens: &'a mut UnboundedReceiver<Invoked>,
    presses: &'a mut UnboundedReceiver<()>,
}

/// Handles menu choices, notification buttons, the join shortcut, signals and the window
/// app, until one of them ends the host.
async fn serve(
    engine: &Arc<Engine>,
    provisioning: &Mutex<Provisioning>,
    background: &Background,
    channels: Channels<'_>,
) -> Exit {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    loop {
        tokio::select! {
            Some(action) = channels.actions.recv() => {
                if let Some(exit) = act(engine, provisioning, background, action).await {
                    return exit;
                }
            }
            Some(invoked) = channels.opens.recv() => match invoked {
                Invoked::Open(id, kind) => {
                    open_link(&background.engine_with_appointment(&id), &id, kind)
                }
                Invoked::RestoreNow(id) => {
                    presently_desktop::presence::restore_now(engine, &id);
                    background.tray_changed();
                }
            },
            Some(()) = channels.presses.recv() => join_next_meeting(background),
            Some(stream) = channels.handovers.recv() => return Exit::HandOver(stream),
            Some(()) = recv(&mut terminate) => return Exit::Quit,
            Some(()) = recv(&mut interrupt) => return Exit::Quit,
        }
    }
}

/// The join shortcut was pressed: join the meeting under way or starting within 10
/// minutes, else open the window on the agenda (the window app decides the same way).
fn join_next_meeting(background: &Background) {
    let engine = background.engine();
    // The next meeting of any account signed in.
    let decision = match background.agenda(None, Some(2)) {
        Ok(view) => join_next(&view, engine.now()),
        Err(e) => {
            tracing::warn!(error = %e, "join shortcut: no agenda");
            JoinNext::ShowAgenda
        }
    };
    tracing::info!(?decision, "join shortcut pressed");
    match decision {
        JoinNext::Join(id) => open_link(
            &background.engine_with_appointment(&id),
            &id,
            OpenKind::Join,
        ),
        JoinNext::ShowAgenda => open_window(&[]),
    }
}

async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Accepts connections on the control socket and reads each one's request in a task of its
/// own (at most [`CONTROL_CONNECTIONS`] at once, each bounded in size and time by
/// [`handoff::read_request`]); a hand-over goes to `handovers`.
async fn control_socket(
    listener: tokio::net::UnixListener,
    uid: u32,
    handovers: tokio::sync::mpsc::UnboundedSender<tokio::net::UnixStream>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONTROL_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "control socket");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("control socket: too many connections; one refused");
            continue;
        };
        let handovers = handovers.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match handoff::read_request(stream, uid).await {
                Ok(stream) => {
                    let _ = handovers.send(stream);
                }
                Err(e) => tracing::warn!(error = %e, "control socket: request refused"),
            }
        });
    }
}

/// Does what a menu item asks; `Some` when the host should end.
async fn act(
    engine: &Arc<Engine>,
    provisioning: &Mutex<Provisioning>,
    background: &Background,
    action: TrayAction,
) -> Option<Exit> {
    tracing::info!(action = action.to_id(), "tray menu");
    match action {
        TrayAction::OpenWindow | TrayAction::SignIn => open_window(&[]),
        TrayAction::Settings => open_window(&["--settings"]),
        TrayAction::SyncNow => background.sync_now(),
        TrayAction::OpenItem(id) => open_link(
            &background.engine_with_appointment(&id),
            &id,
            OpenKind::Outlook,
        ),
        TrayAction::JoinItem(id) => open_link(
            &background.engine_with_appointment(&id),
            &id,
            OpenKind::Join,
        ),
        TrayAction::PausePresenceHour
        | TrayAction::PausePresenceUntilTomorrow
        | TrayAction::ResumePresence => {
            let until = tray::pause_until(
                &action,
                engine.now(),
                engine.config().display_timezone(),
                engine.today(),
            );
            let done = match (&action, until) {
                (TrayAction::ResumePresence, _) => engine.presence_resume(),
                (_, until) => engine.presence_pause(until),
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "cannot pause or resume presence automation");
            }
            background.presence_changed();
        }
        TrayAction::TakeOver(resource) => {
            match engine.presence_take_over(resource) {
                Ok(outcome) => tracing::info!(%resource, ?outcome, "the user took it over"),
                Err(e) => tracing::warn!(error = %e, %resource, "cannot hand it to the user"),
            }
            background.tray_changed();
        }
        TrayAction::SkipNext(ref id) | TrayAction::UnskipNext(ref id) => {
            let skip = matches!(action, TrayAction::SkipNext(_));
            let target = presently_engine::SkipTarget::Appointment(id.clone());
            let done = if skip {
                engine.presence_skip(&target, false)
            } else {
                engine.presence_unskip(&target)
            };
            match done {
                Ok(outcome) => tracing::info!(skip, changed = outcome.changed, "presence skip"),
                Err(e) => tracing::warn!(error = %e, "cannot skip or unskip"),
            }
            background.presence_changed();
        }
        TrayAction::SignOut => {
            if let Err(e) = engine.sign_out(false).await {
                tracing::warn!(error = %e, "cannot sign out");
                return None;
            }
            tracing::info!("signed out; opening the consent window");
            open_window(&[]);
            return Some(Exit::Quit);
        }
        TrayAction::PrivacyMode(on) => {
            let saved = lock(provisioning).set_privacy(on);
            match saved.and_then(|config| engine.reconfigure(config)) {
                Ok(()) => tracing::info!(on, "privacy mode"),
                Err(e) => tracing::warn!(error = %e, "cannot change privacy mode"),
            }
            background.tray_changed();
        }
        TrayAction::Quit => return Some(Exit::Quit),
    }
    None
}

/// Every account the host runs, the default one first.
type Accounts = Arc<[(String, Arc<Engine>)]>;

/// The provisioning, also after a panic elsewhere held its lock (it is only read and
/// replaced whole).
fn lock(provisioning: &Mutex<Provisioning>) -> std::sync::MutexGuard<'_, Provisioning> {
    provisioning.lock().unwrap_or_else(|p| p.into_inner())
}

/// The tray's model: the status (with a broken policy or settings file on top) and what
/// comes next.
fn current_model(accounts: &Accounts, provisioning: &Mutex<Provisioning>) -> TrayMenu {
    let engine = &accounts[0].1;
    match engine.status() {
        Ok(status) => {
            let (status, locked) = {
                let p = lock(provisioning);
                (p.overlay_status(status), p.privacy_locked())
            };
            // The next meeting of any account signed in.
            let agenda = presently_desktop::accounts::merged_agenda(
                accounts,
                engine.config().display_timezone(),
                None,
                None,
            )
            .ok();
            tray::for_agenda(engine, agenda, &status, locked)
        }
        Err(e) => tray::cannot_open(&e.to_string(), engine.config().app.language.resolve()),
    }
}

/// How the tray host shows what the background work produces: the ksni tray and
/// freedesktop notifications over D-Bus.
struct HostIntegration {
    engine: Arc<Engine>,
    /// Every account, the default one first (the tray merges their agendas).
    accounts: Accounts,
    provisioning: Arc<Mutex<Provisioning>>,
    tray: Option<ksni::Handle<HostTray>>,
    /// What the tray shows, so an unchanged model is not sent again.
    shown: tokio::sync::Mutex<TrayMenu>,
    notifier: Option<Notifier>,
}

impl Integration for HostIntegration {
    // The tray is the host's only view: the supervisor wakes the tray loop for these.
    fn sync_still_running(&self) {}
    fn sync_round_ended(&self, _end: RoundEnd) {}
    fn sync_filled(&self) {}
    fn presence_status_changed(&self) {}

    fn show_reminder(&self, reminder: Reminder, body: String) -> Shown<'_> {
        Box::pin(async move {
            let Some(notifier) = &self.notifier else {
                return;
            };
            let lang = self.engine.config().app.language.resolve();
            if let Err(e) = notifier.show(&reminder, &body, lang).await {
                tracing::warn!(error = %e, "cannot show a reminder");
            }
        })
    }

    fn show_alert(&self, alert: RestoreAlert) -> Shown<'_> {
        Box::pin(async move {
            let Some(notifier) = &self.notifier else {
                return;
            };
            if let Err(e) = notifier.alert(&alert.summary, &alert.body).await {
                tracing::warn!(error = %e, "cannot show the notification");
            }
        })
    }

    fn offer_restore(&self, offer: RestoreOffer) -> Shown<'_> {
        Box::pin(async move {
            let Some(notifier) = &self.notifier else {
                tracing::info!(appointment = %offer.appointment_id, "{}", offer.summary);
                return;
            };
            if let Err(e) = notifier.offer(&offer).await {
                tracing::warn!(error = %e, "cannot show the notification");
            }
        })
    }

    fn refresh_tray(&self) -> Shown<'_> {
        Box::pin(async move {
            let Some(handle) = &self.tray else { return };
            let model = current_model(&self.accounts, &self.provisioning);
            let mut shown = self.shown.lock().await;
            if model != *shown {
                *shown = model.clone();
                if handle.update(|t| t.model = model).await.is_none() {
                    tracing::warn!("the tray icon is gone");
                }
            }
        })
    }
}
