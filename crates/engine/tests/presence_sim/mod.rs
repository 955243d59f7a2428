//! Presence automation on simulated time: the engine's runtime against the emulator over
//! loopback HTTP, its clock and its sleeps driven by the test. Time moves only when the
//! runtime sleeps: [`Sim::run_until`] lets it do everything due at each instant it asks for,
//! so "within 1 s of the end" is "done by the time the simulated clock shows the end".
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

use chrono::{DateTime, Duration, DurationRound, Utc};
use presently_emulator::{Emulator, EmulatorConfig, PresenceCall, Seed};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::presence::runtime::{RuntimeOptions, Timer};
use presently_engine::{Clock, Engine, EngineSetup, FixedClock};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// The simulated clock and the runtime's sleeps.
pub struct Sim {
    pub clock: Arc<FixedClock>,
    emulator_base: Option<presently_emulator::Control>,
    /// (how many times the runtime went to sleep, until when).
    asleep: watch::Sender<(u64, Option<DateTime<Utc>>)>,
    kick: Notify,
}

/// The runtime's [`Timer`] on simulated time.
#[derive(Clone)]
pub struct SimTimer(pub Arc<Sim>);

impl Timer for SimTimer {
    fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        self.0.asleep.send_modify(|(n, until)| {
            *n += 1;
            *until = Some(at);
        });
        loop {
            let kicked = self.0.kick.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            if self.0.clock.now() >= at {
                return;
            }
            kicked.await;
        }
    }
}

impl Sim {
    /// A simulated clock starting at the next whole minute of the real one (the emulator's
    /// own clock, for expirations, is moved along with it).
    pub fn new(emu: &Emulator) -> Arc<Self> {
        let start = Utc::now().duration_trunc(Duration::minutes(1)).unwrap() + Duration::minutes(1);
        let sim = Arc::new(Self {
            clock: Arc::new(FixedClock::new(start)),
            emulator_base: Some(emu.control()),
            asleep: watch::channel((0, None)).0,
            kick: Notify::new(),
        });
        sim.follow_emulator();
        sim
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn timer(self: &Arc<Self>) -> SimTimer {
        SimTimer(self.clone())
    }

    fn follow_emulator(&self) {
        if let Some(c) = &self.emulator_base {
            let ahead = self.clock.now() - c.clock();
            if let Ok(by) = ahead.to_std() {
                c.advance_clock(by);
            }
        }
    }

    /// Sets the clock (forward) and wakes the runtime if it sleeps.
    pub fn set(&self, t: DateTime<Utc>) {
        if t > self.clock.now() {
            self.clock.set(t);
        }
        self.follow_emulator();
        self.kick.notify_waiters();
    }

    /// Waits (real time, at most 20 s) until the runtime sleeps again after `seen`
    /// sleeps; returns how many it has slept and until when.
    async fn settle(&self, seen: u64) -> (u64, DateTime<Utc>) {
        let mut rx = self.asleep.subscribe();
        let wait = rx.wait_for(|(n, until)| *n > seen && until.is_some());
        let got = tokio::time::timeout(std::time::Duration::from_secs(20), wait)
            .await
            .expect("the presence runtime never went to sleep")
            .expect("the timer is gone");
        (got.0, got.1.unwrap())
    }

    fn slept(&self) -> u64 {
        self.asleep.borrow().0
    }

    /// Lets the runtime do everything due up to `t`, instant by instant as it asks,
    /// then leaves the clock at `t` once it sleeps again.
    pub async fn run_until(&self, t: DateTime<Utc>) {
        // The runtime sleeps now (every step below waits for that).
        let mut seen = self.slept().saturating_sub(1);
        loop {
            let (n, wake) = self.settle(seen).await;
            seen = n;
            if wake > t {
                break;
            }
            self.set(wake);
        }
        // It sleeps past `t`: the clock moves on without waking it.
        self.set(t);
    }

    /// Does `f` (a pause, a store change: something that wakes the runtime) and waits
    /// until the runtime sleeps again.
    pub async fn after(&self, f: impl FnOnce()) {
        let seen = self.slept();
        f();
        self.settle(seen).await;
    }
}

/// Runtime options for simulated time: long sleeps (nothing is missed: the timer is
/// exact), retries from 2 s.
pub fn options() -> RuntimeOptions {
    RuntimeOptions {
        max_step: std::time::Duration::from_secs(3600),
        ..RuntimeOptions::default()
    }
}

pub struct Running {
    pub stop: Arc<Notify>,
    pub store_changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the engine's presence runtime on `sim`'s time; returns once it sleeps.
pub async fn start(engine: &Arc<Engine>, sim: &Arc<Sim>) -> Running {
    let stop = Arc::new(Notify::new());
    let store_changed = Arc::new(Notify::new());
    let seen = sim.slept();
    let task = tokio::spawn(engine.clone().run_presence_on(
        sim.timer(),
        stop.clone(),
        store_changed.clone(),
        options(),
    ));
    sim.settle(seen).await;
    Running {
        stop,
        store_changed,
        task,
    }
}

impl Running {
    /// Stops the runtime (as the app does when it quits).
    pub async fn stop(self) {
        self.stop.notify_one();
        self.task.await.unwrap();
    }

    /// Kills the runtime where it is (as a crash would: nothing more is stored).
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// An appointment in the emulator's primary calendar from `start` for `minutes`.
pub fn appointment(
    emu: &Emulator,
    subject: &str,
    show_as: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = start + Duration::minutes(minutes);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    emu.control()
        .add_event(json!({
            "subject": subject,
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
            "showAs": show_as,
        }))
        .unwrap();
    (start, end)
}

pub fn calls(emu: &Emulator, kind: &str) -> Vec<PresenceCall> {
    emu.control()
        .presence_calls()
        .into_iter()
        .filter(|c| c.kind == kind)
        .collect()
}

pub fn history(engine: &Engine) -> Vec<String> {
    engine
        .presence_history(50)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect()
}

/// The aggregate presence, as `GET /me/presence` answers.
pub fn aggregate(emu: &Emulator) -> String {
    emu.control().presence()["availability"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An emulator with an empty mailbox in Berlin whose day is the real clock's (a [`Sim`]
/// starts at the real clock's next minute).
pub async fn empty_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::Europe::Berlin,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// An engine on `sim`'s clock with presence on (and whatever `tweak` changes), its data in
/// `dir`, signed in to `emu`.
pub async fn engine_with(
    emu: &Emulator,
    sim: &Arc<Sim>,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut Config),
) -> Arc<Engine> {
    let mut config = crate::common::config_for(emu);
    config.features.presence = true;
    tweak(&mut config);
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths: Paths::under(dir),
            config,
            clock: sim.clock.clone(),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    Arc::new(engine)
}

/// [`engine_with`] with the configuration as it comes.
pub async fn engine(emu: &Emulator, sim: &Arc<Sim>, dir: &std::path::Path) -> Arc<Engine> {
    engine_with(emu, sim, dir, |_| {}).await
}
