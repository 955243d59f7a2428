//! Two accounts in the shells' supervisor (issue 22, item 4): a work tenant (the default
//! account) and a customer's (a named one), each an emulator of its own. Each syncs into
//! its own store, presence automation runs for the account whose settings turn it on, the
//! agenda and the tray merge both with the account on each item, and an appointment of
//! either account is found for Open and Join.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![allow(clippy::disallowed_methods)] // tests drive real servers on the wall clock

use chrono::{DateTime, Duration, DurationRound, Utc};
use presently_desktop::background::{Background, Integration, Loops, Shown};
use presently_desktop::presence::{RestoreAlert, RestoreOffer};
use presently_desktop::sync::RoundEnd;
use presently_emulator::{Emulator, EmulatorConfig, Seed, DEMO_CLIENT_ID};
use presently_engine::auth::MemoryStore;
use presently_engine::config::Config;
use presently_engine::paths::Paths;
use presently_engine::reminders::Reminder;
use presently_engine::store::HistoryKind;
use presently_engine::{Engine, EngineSetup, SystemClock};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What the supervisors asked the shell to show: the rounds' ends and the reminders.
#[derive(Default)]
struct Recorder {
    rounds: Mutex<usize>,
    fills: Mutex<usize>,
    reminders: Mutex<Vec<String>>,
    trays: Mutex<usize>,
}

impl Integration for Recorder {
    fn sync_still_running(&self) {}
    fn sync_round_ended(&self, _end: RoundEnd) {
        *self.rounds.lock().unwrap() += 1;
    }
    fn sync_filled(&self) {
        *self.fills.lock().unwrap() += 1;
    }
    fn presence_status_changed(&self) {}
    fn show_reminder(&self, reminder: Reminder, _body: String) -> Shown<'_> {
        self.reminders.lock().unwrap().push(reminder.subject);
        Box::pin(std::future::ready(()))
    }
    fn show_alert(&self, _alert: RestoreAlert) -> Shown<'_> {
        Box::pin(std::future::ready(()))
    }
    fn offer_restore(&self, _offer: RestoreOffer) -> Shown<'_> {
        Box::pin(std::future::ready(()))
    }
    fn refresh_tray(&self) -> Shown<'_> {
        *self.trays.lock().unwrap() += 1;
        Box::pin(std::future::ready(()))
    }
}

async fn wait_until(what: &str, deadline: DateTime<Utc>, mut done: impl FnMut() -> bool) {
    while !done() {
        assert!(Utc::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An empty mailbox with one busy appointment `subject` from `start`, lasting `length`,
/// with a reminder a minute before; its id.
async fn emulator_with(
    subject: &str,
    start: DateTime<Utc>,
    length: Duration,
) -> (Emulator, String) {
    let emu = Emulator::start(EmulatorConfig {
        today: Utc::now().date_naive(),
        mailbox_tz: chrono_tz::UTC,
        seed: Seed::Empty,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let id = emu
        .control()
        .add_event(serde_json::json!({
            "subject": subject,
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(start + length), "timeZone": "UTC"},
            "showAs": "busy",
            "isReminderOn": true,
            "reminderMinutesBeforeStart": 1,
        }))
        .unwrap();
    (emu, id)
}

/// The engine of the account whose files are `paths`, signed in to `emu` (memory
/// credentials: the shells use the account's keyring entry, `account:NAME`), presence
/// automation on as `presence` says.
async fn signed_in(paths: Paths, emu: &Emulator, presence: bool) -> Arc<Engine> {
    let mut config = Config::default();
    config.microsoft.client_id = Some(DEMO_CLIENT_ID.to_owned());
    config.microsoft.authority_host = emu.base_url();
    config.microsoft.graph_endpoint = emu.base_url();
    config.agenda.timezone = Some("UTC".into());
    config.features.presence = presence;
    let engine = Engine::open_with_credentials(
        EngineSetup {
            paths,
            config,
            clock: Arc::new(SystemClock),
            demo: false,
        },
        Arc::new(MemoryStore::default()),
    )
    .unwrap();
    engine.sign_in_to_emulator().await.unwrap();
    Arc::new(engine)
}

fn subjects(engine: &Engine) -> Vec<String> {
    presently_engine::agenda::flatten(&engine.agenda(None, Some(2)).unwrap())
        .into_iter()
        .map(|i| i.subject.clone())
        .collect()
}

fn store_of(dir: &Path, name: &str) -> std::path::PathBuf {
    Paths::under(dir).account(name).unwrap().store_file()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_account_syncs_into_its_own_store_and_the_agenda_and_tray_merge_them() {
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    // The work tenant's meeting is in two hours; the customer's begins in 3 s (its
    // reminder is due now), so presence automation switches for it while the loops run.
    let (work_emu, work_id) = emulator_with(
        "Work standup",
        now + Duration::hours(2),
        Duration::minutes(30),
    )
    .await;
    let customer_start = now + Duration::seconds(3);
    let (customer_emu, customer_id) =
        emulator_with("Customer review", customer_start, Duration::seconds(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let base = Paths::under(dir.path());
    // The default account leaves presence automation off; the customer's turns it on:
    // each runs with its own settings.
    let work = signed_in(base.clone(), &work_emu, false).await;
    let customer = signed_in(base.account("customer").unwrap(), &customer_emu, true).await;
    assert_ne!(
        store_of(dir.path(), "default"),
        store_of(dir.path(), "customer")
    );

    let background = Background::new(work.clone());
    // Added before the start: it starts with the rest.
    background.add_account("customer", customer.clone());
    let shell = Arc::new(Recorder::default());
    background.start(
        &tokio::runtime::Handle::current(),
        shell.clone(),
        Loops::default(),
    );
    let deadline = Utc::now() + Duration::seconds(15);

    // Each account syncs into its own store, and only its own calendar.
    wait_until("both accounts synced", deadline, || {
        subjects(&work) == ["Work standup"] && subjects(&customer) == ["Customer review"]
    })
    .await;
    assert!(store_of(dir.path(), "customer").exists());
    assert!(
        store_of(dir.path(), "customer").starts_with(dir.path().join("accounts/customer")),
        "a named account's store is in accounts/NAME"
    );

    // The merged agenda has both, the earlier first, each with its account.
    let merged = background.agenda(None, Some(2)).unwrap();
    let items: Vec<(String, Option<String>)> = presently_engine::agenda::flatten(&merged)
        .into_iter()
        .map(|i| (i.subject.clone(), i.account.clone()))
        .collect();
    assert_eq!(
        items,
        [
            ("Customer review".to_owned(), Some("customer".to_owned())),
            ("Work standup".to_owned(), Some("default".to_owned())),
        ]
    );
    let accounts: Vec<String> = background.accounts().into_iter().map(|(n, _)| n).collect();
    assert_eq!(accounts, ["default", "customer"]);

    // Open and Join find the appointment's account by its id.
    assert!(Arc::ptr_eq(
        &background.engine_with_appointment(&customer_id),
        &customer
    ));
    assert!(Arc::ptr_eq(
        &background.engine_with_appointment(&work_id),
        &work
    ));
    assert!(background
        .engine_with_appointment(&customer_id)
        .open_target(&customer_id, presently_engine::links::OpenKind::Outlook)
        .is_ok());

    // The tray's next meeting is the customer's, the earliest across accounts.
    let status = work.status().unwrap();
    let tray = background.tray_menu(&status, false);
    assert!(
        tray.tooltip.contains("Customer review"),
        "the tray shows the next meeting of any account: {}",
        tray.tooltip
    );

    // The customer's reminder is shown through the same shell.
    wait_until("the customer's reminder", deadline, || {
        shell
            .reminders
            .lock()
            .unwrap()
            .contains(&"Customer review".to_owned())
    })
    .await;

    // Presence automation runs for the customer's account, with its settings, and not for
    // the default account, whose settings leave it off.
    wait_until(
        "the customer's block applied",
        customer_start + Duration::seconds(5),
        || {
            customer
                .presence_history(10)
                .unwrap()
                .iter()
                .any(|line| line.row.event == HistoryKind::Applied)
        },
    )
    .await;
    assert!(
        !work
            .presence_history(10)
            .unwrap()
            .iter()
            .any(|line| line.row.event == HistoryKind::Applied),
        "the default account's presence automation is off"
    );

    // Removed, the account's loops stop and the agenda is the default account's again,
    // with no account shown.
    assert!(
        background
            .remove_account("customer", std::time::Duration::from_secs(2))
            .await
    );
    let alone = background.agenda(None, Some(2)).unwrap();
    let alone = presently_engine::agenda::flatten(&alone);
    assert_eq!(alone.len(), 1);
    assert_eq!(alone[0].account, None);
    assert!(
        background.stop(std::time::Duration::from_secs(2)).await,
        "every loop stops"
    );
}

/// An account added while the loops run starts syncing at once.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_added_while_running_syncs_at_once() {
    let now = Utc::now();
    let (work_emu, _) = emulator_with(
        "Work standup",
        now + Duration::hours(2),
        Duration::minutes(30),
    )
    .await;
    let (customer_emu, _) = emulator_with(
        "Customer review",
        now + Duration::hours(3),
        Duration::minutes(30),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let base = Paths::under(dir.path());
    let work = signed_in(base.clone(), &work_emu, false).await;
    let background = Background::new(work.clone());
    let shell = Arc::new(Recorder::default());
    background.start(
        &tokio::runtime::Handle::current(),
        shell.clone(),
        Loops::default(),
    );
    let deadline = Utc::now() + Duration::seconds(15);
    wait_until("the default account synced", deadline, || {
        subjects(&work) == ["Work standup"]
    })
    .await;
    let fills = *shell.fills.lock().unwrap();

    let customer = signed_in(base.account("customer").unwrap(), &customer_emu, false).await;
    background.add_account("customer", customer.clone());
    wait_until("the added account synced", deadline, || {
        subjects(&customer) == ["Customer review"]
    })
    .await;
    // The window is told to reload the agenda, which now merges both.
    wait_until("the window told", deadline, || {
        *shell.fills.lock().unwrap() > fills
    })
    .await;
    let merged = background.agenda(None, Some(2)).unwrap();
    assert_eq!(presently_engine::agenda::flatten(&merged).len(), 2);
    assert!(background.stop(std::time::Duration::from_secs(2)).await);
}
