use super::*;
use chrono::TimeZone;

fn cal(id: &str) -> Calendar {
    Calendar {
        id: id.to_owned(),
        name: format!("Calendar {id}"),
        color: Some("#0078d4".to_owned()),
        is_default: id == "primary",
        can_edit: true,
    }
}

fn appt(id: &str, hour: u32) -> Appointment {
    Appointment {
        id: id.to_owned(),
        calendar_id: "primary".to_owned(),
        ical_uid: Some(format!("uid-{id}")),
        subject: format!("Meeting {id}"),
        when: When::Timed {
            start: Utc.with_ymd_and_hms(2026, 11, 24, hour, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 11, 24, hour, 30, 0).unwrap(),
        },
        original_time_zone: Some("W. Europe Standard Time".to_owned()),
        show_as: ShowAs::Busy,
        response: ResponseStatus::Accepted,
        sensitivity: Sensitivity::Normal,
        cancelled: false,
        location: Some("Room 1".to_owned()),
        organizer: Some(Organizer {
            name: Some("Dana".to_owned()),
            email: Some("dana@contoso.com".to_owned()),
        }),
        attendees: Some(3),
        join_url: Some("https://teams.microsoft.com/l/meetup-join/1".to_owned()),
        online_provider: Some(OnlineMeetingProvider::TeamsForBusiness),
        meeting_id: None,
        meeting_passcode: None,
        web_link: None,
        series_master_id: None,
        kind: AppointmentType::SingleInstance,
        categories: vec!["Red".to_owned()],
        reminder_on: true,
        reminder_minutes: Some(15),
        body_preview: Some("Hello".to_owned()),
        last_modified: Some(Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()),
        change_key: Some(format!("m1:ck-{id}")),
    }
}

fn all_day(id: &str) -> Appointment {
    Appointment {
        when: When::AllDay {
            start: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        },
        organizer: None,
        attendees: None,
        online_provider: None,
        meeting_id: None,
        meeting_passcode: None,
        join_url: None,
        ..appt(id, 0)
    }
}

fn state(link: &str) -> SyncState {
    SyncState {
        delta_link: Some(link.to_owned()),
        last_synced_at: Some(Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap()),
        ..Default::default()
    }
}

fn upserts(items: &[Appointment]) -> Vec<EventChange> {
    items
        .iter()
        .map(|a| EventChange::Upsert(Box::new(a.clone())))
        .collect()
}

fn whole_day(store: &Store) -> Vec<Appointment> {
    store
        .appointments_overlapping(
            Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        )
        .unwrap()
}

fn open_with_primary(dir: &tempfile::TempDir) -> Store {
    let mut store = Store::open(&dir.path().join("store.db")).unwrap();
    store.set_calendars(&[cal("primary")]).unwrap();
    store
}

#[test]
fn appointments_round_trip_through_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let items = vec![appt("a", 9), all_day("b")];
    {
        let mut store = open_with_primary(&dir);
        store
            .apply_changes("primary", &upserts(&items), &state("d1"))
            .unwrap();
    }
    let store = Store::open(&dir.path().join("store.db")).unwrap();
    let read = whole_day(&store);
    assert_eq!(read.len(), 2);
    assert!(read.contains(&items[0]), "{read:#?}");
    assert!(read.contains(&items[1]), "{read:#?}");
    assert_eq!(
        store
            .sync_state("primary")
            .unwrap()
            .unwrap()
            .delta_link
            .as_deref(),
        Some("d1")
    );
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn replaying_a_page_changes_nothing_and_removals_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    let page = upserts(&[appt("a", 9), appt("b", 10)]);
    let first = store.apply_changes("primary", &page, &state("d1")).unwrap();
    let replay = store.apply_changes("primary", &page, &state("d1")).unwrap();
    assert_eq!(first.upserted, 2);
    assert_eq!(replay.upserted, 0, "a replayed page writes nothing");
    assert_eq!(store.appointment_count().unwrap(), 2);
    let removal = vec![
        EventChange::Removed { id: "a".to_owned() },
        EventChange::Removed { id: "a".to_owned() },
        EventChange::Removed {
            id: "never-seen".to_owned(),
        },
    ];
    let stats = store
        .apply_changes("primary", &removal, &state("d2"))
        .unwrap();
    assert_eq!(stats.removed, 1);
    assert_eq!(store.appointment_count().unwrap(), 1);
}

#[test]
fn a_failing_write_rolls_back_data_and_sync_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    store
        .apply_changes("primary", &upserts(&[appt("a", 9)]), &state("d1"))
        .unwrap();
    // The third change is invalid (ends before it starts): the whole page must fail.
    let mut broken = appt("x", 11);
    broken.when = When::Timed {
        start: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap(),
    };
    let page = vec![
        EventChange::Upsert(Box::new(appt("b", 10))),
        EventChange::Removed { id: "a".to_owned() },
        EventChange::Upsert(Box::new(broken)),
    ];
    let err = store
        .apply_changes("primary", &page, &state("d2"))
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert_eq!(whole_day(&store), vec![appt("a", 9)]);
    assert_eq!(
        store
            .sync_state("primary")
            .unwrap()
            .unwrap()
            .delta_link
            .as_deref(),
        Some("d1")
    );
}

#[test]
fn replace_calendar_swaps_contents_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    store
        .apply_changes(
            "primary",
            &upserts(&[appt("a", 9), appt("b", 10)]),
            &state("d1"),
        )
        .unwrap();
    store
        .replace_calendar("primary", &[appt("b", 10), appt("c", 11)], &state("d9"))
        .unwrap();
    let ids: Vec<String> = whole_day(&store).into_iter().map(|a| a.id).collect();
    assert_eq!(ids, vec!["b", "c"]);
}

#[test]
fn migrates_a_version_1_store_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO calendars VALUES ('primary', 'Calendar', NULL, 1, 1);
             INSERT INTO appointments (calendar_id, id, subject, all_day, start_utc, end_utc,
               show_as, response, sensitivity, cancelled, kind, categories, reminder_on)
             VALUES ('primary', 'old', 'Kept across upgrade', 0, 1795510800, 1795512600,
               'busy', 'accepted', 'normal', 0, 'singleInstance', '[]', 0);",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let old = store.appointment("old").unwrap().unwrap();
    assert_eq!(old.subject, "Kept across upgrade");
    assert_eq!(old.body_preview, None);
}

#[test]
fn refuses_a_store_from_a_newer_version_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, Error::StoreTooNew { found: 99, .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn reports_a_corrupt_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let garbage = b"this is not a database, it is a shopping list: milk, eggs".repeat(200);
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, Error::StoreCorrupt { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"));
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn a_new_account_replaces_the_old_ones_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    let dana = Account {
        id: "u1".into(),
        tenant_id: None,
        upn: "dana@contoso.com".into(),
        display_name: None,
    };
    store.set_account(&dana).unwrap();
    store
        .apply_changes("primary", &upserts(&[appt("a", 9)]), &state("d1"))
        .unwrap();
    store.set_account(&dana).unwrap();
    assert_eq!(store.appointment_count().unwrap(), 1);
    store
        .set_account(&Account {
            id: "u2".into(),
            upn: "lee@contoso.com".into(),
            ..dana
        })
        .unwrap();
    assert_eq!(store.appointment_count().unwrap(), 0);
    assert_eq!(store.account().unwrap().unwrap().upn, "lee@contoso.com");
}

#[test]
fn a_full_round_is_staged_and_swapped_in_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    store
        .apply_changes(
            "primary",
            &upserts(&[appt("a", 9), appt("b", 10)]),
            &state("d1"),
        )
        .unwrap();
    let mut round = state("d1");
    round.round = Some(RoundKind::Full);
    round.next_link = Some("page-1".into());
    store.begin_full_round("primary", &round).unwrap();
    let mut changed_b = appt("b", 10);
    changed_b.subject = "Moved".into();
    store
        .stage_changes(
            "primary",
            &upserts(&[changed_b.clone(), appt("c", 11)]),
            &round,
        )
        .unwrap();
    // Mid-round the agenda still shows the old data.
    let ids: Vec<String> = whole_day(&store).into_iter().map(|a| a.id).collect();
    assert_eq!(ids, vec!["a", "b"]);
    // A crash here leaves the round resumable from its next link.
    drop(store);
    let mut store = Store::open(&dir.path().join("store.db")).unwrap();
    let resumed = store.sync_state("primary").unwrap().unwrap();
    assert_eq!(resumed.round, Some(RoundKind::Full));
    assert_eq!(resumed.next_link.as_deref(), Some("page-1"));
    let done = state("d2");
    let stats = store.commit_full_round("primary", &done).unwrap();
    assert_eq!(
        (stats.upserted, stats.removed),
        (2, 1),
        "b changed, c new, a gone"
    );
    let now: Vec<Appointment> = whole_day(&store);
    assert_eq!(now, vec![changed_b, appt("c", 11)]);
    let state_after = store.sync_state("primary").unwrap().unwrap();
    assert_eq!(state_after.delta_link.as_deref(), Some("d2"));
    assert_eq!(state_after.round, None);
}

#[test]
fn the_attendee_count_round_trips_and_a_changed_count_is_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    let mut none = appt("n", 11);
    none.attendees = None;
    let mut zero = appt("z", 12);
    zero.attendees = Some(0);
    let page = upserts(&[appt("a", 9), none.clone(), zero.clone()]);
    store.apply_changes("primary", &page, &state("d1")).unwrap();
    let read = |store: &Store, id: &str| store.appointment(id).unwrap().unwrap().attendees;
    assert_eq!(read(&store, "a"), Some(3));
    assert_eq!(read(&store, "n"), None);
    assert_eq!(read(&store, "z"), Some(0));
    // Only the count differs: that row is written, the others are not.
    let mut more = appt("a", 9);
    more.attendees = Some(4);
    let stats = store
        .apply_changes("primary", &upserts(&[more, none, zero]), &state("d2"))
        .unwrap();
    assert_eq!(stats.upserted, 1);
    assert_eq!(read(&store, "a"), Some(4));
    // A full round carries the count through staging.
    let mut round = state("d2");
    round.round = Some(RoundKind::Full);
    store.begin_full_round("primary", &round).unwrap();
    let mut fewer = appt("a", 9);
    fewer.attendees = Some(1);
    store
        .stage_changes("primary", &upserts(&[fewer]), &round)
        .unwrap();
    let stats = store.commit_full_round("primary", &state("d3")).unwrap();
    assert_eq!((stats.upserted, stats.removed), (1, 2));
    assert_eq!(read(&store, "a"), Some(1));
}

/// A store as version 5 left it: every migration up to 5, a synced calendar with its
/// delta link, an appointment, and a full round interrupted half-way.
fn version_5_store(path: &Path) {
    let conn = Connection::open(path).unwrap();
    for sql in &MIGRATIONS[..5] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 5).unwrap();
    conn.execute_batch(
        "INSERT INTO calendars VALUES ('primary', 'Calendar', NULL, 1, 1);
         INSERT INTO appointments (calendar_id, id, subject, all_day, start_utc, end_utc,
           show_as, response, sensitivity, cancelled, organizer_email, kind, categories,
           reminder_on, body_preview)
         VALUES ('primary', 'old', 'Kept across upgrade', 0, 1795510800, 1795512600,
           'busy', 'accepted', 'normal', 0, 'dana@contoso.com', 'singleInstance', '[]', 0,
           'Agenda');
         INSERT INTO staged_appointments (calendar_id, id, subject, all_day, start_utc,
           end_utc, show_as, response, sensitivity, cancelled, kind, categories, reminder_on)
         VALUES ('primary', 'half', 'Staged', 0, 1795510800, 1795512600, 'busy', 'accepted',
           'normal', 0, 'singleInstance', '[]', 0);
         INSERT INTO sync_state (calendar_id, delta_link, next_link, window_start, window_end,
           last_synced_at, round_kind)
         VALUES ('primary', 'https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=d',
           'https://graph.microsoft.com/v1.0/me/calendarView/delta?$skiptoken=s',
           '2026-11-17T00:00:00Z', '2026-12-24T00:00:00Z', '2026-11-24T08:00:00Z', 'full');",
    )
    .unwrap();
}

#[test]
fn migrates_a_version_5_store_keeping_its_data_and_reading_the_window_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    version_5_store(&path);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let old = store.appointment("old").unwrap().unwrap();
    assert_eq!(old.subject, "Kept across upgrade");
    assert_eq!(old.body_preview.as_deref(), Some("Agenda"));
    assert_eq!(old.attendees, None, "not known until the server says");
    // The next sync is a full round over the same window: the links are gone, the window
    // and the time of the last sync stay.
    let sync = store.sync_state("primary").unwrap().unwrap();
    assert_eq!(sync.delta_link, None);
    assert_eq!(sync.next_link, None);
    assert_eq!(sync.round, None);
    assert!(sync.window_start.is_some() && sync.last_synced_at.is_some());
    // That round fills the count in; the staged half of the old round is gone.
    let mut round = state("d1");
    round.round = Some(RoundKind::Full);
    store.begin_full_round("primary", &round).unwrap();
    let mut counted = store.appointment("old").unwrap().unwrap();
    counted.attendees = Some(2);
    store
        .stage_changes("primary", &upserts(&[counted]), &round)
        .unwrap();
    let stats = store.commit_full_round("primary", &state("d1")).unwrap();
    assert_eq!((stats.upserted, stats.removed), (1, 0));
    assert_eq!(
        store.appointment("old").unwrap().unwrap().attendees,
        Some(2)
    );
    assert_eq!(store.appointment("half").unwrap(), None);
}

#[test]
fn migrates_a_version_6_store_so_the_next_round_fills_in_meeting_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        conn.execute_batch(
            "INSERT INTO calendars VALUES ('primary', 'Calendar', NULL, 1, 1);
             INSERT INTO appointments (calendar_id, id, subject, all_day, start_utc, end_utc,
               show_as, response, sensitivity, cancelled, kind, categories, reminder_on,
               body_preview, attendees)
             VALUES ('primary', 'old', 'Kept across upgrade', 0, 1795510800, 1795512600,
               'busy', 'accepted', 'normal', 0, 'singleInstance', '[]', 0,
               'Agenda ____________ Microsoft Teams meeting', 3);
             INSERT INTO sync_state (calendar_id, delta_link, window_start, window_end,
               last_synced_at)
             VALUES ('primary', 'https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=d',
               '2026-11-17T00:00:00Z', '2026-12-24T00:00:00Z', '2026-11-24T08:00:00Z');",
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert!(store.schema_version().unwrap() >= 7);
    let old = store.appointment("old").unwrap().unwrap();
    assert_eq!(old.attendees, Some(3), "the data stays");
    assert_eq!((old.meeting_id, old.meeting_passcode), (None, None));
    let sync = store.sync_state("primary").unwrap().unwrap();
    assert_eq!(
        sync.delta_link, None,
        "the next sync reads the window again"
    );
    assert!(sync.last_synced_at.is_some());
    // That round (staged, as a full round is) brings the codes and the found join link.
    let mut round = state("d1");
    round.round = Some(RoundKind::Full);
    store.begin_full_round("primary", &round).unwrap();
    let mut read_again = store.appointment("old").unwrap().unwrap();
    read_again.join_url = Some("https://us02web.zoom.us/j/81234567890".into());
    read_again.online_provider = Some(OnlineMeetingProvider::Zoom);
    read_again.meeting_id = Some("812 3456 7890".into());
    read_again.meeting_passcode = Some("424242".into());
    read_again.body_preview = Some("Agenda".into());
    store
        .stage_changes("primary", &upserts(&[read_again.clone()]), &round)
        .unwrap();
    store.commit_full_round("primary", &state("d1")).unwrap();
    assert_eq!(store.appointment("old").unwrap().unwrap(), read_again);
    // Only the passcode changes: the row is written.
    read_again.meeting_passcode = Some("535353".into());
    let stats = store
        .apply_changes("primary", &upserts(&[read_again.clone()]), &state("d2"))
        .unwrap();
    assert_eq!(stats.upserted, 1);
    assert_eq!(store.appointment("old").unwrap().unwrap(), read_again);
}

/// A version 6 store in the middle of a presence block: its pre-automation state survives
/// the upgrade until the presence driver takes it over (it then gives the block back; see
/// `presence::driver::tests::a_version_6_pre_state_is_given_back`), and the journal's
/// first save clears it in the same transaction as the driver's state.
#[test]
fn migrates_a_version_6_store_keeping_a_block_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let pre = r#"{"state":{"presence":{"availability":"Available","activity":"Available"},"status_message":null,"forwarding":"off","auto_replies":null},"until":"2026-11-24T11:00:00Z"}"#;
    {
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 6).unwrap();
        conn.execute(
            "UPDATE presence_automation SET pre_state = ?1 WHERE id = 1",
            [pre],
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let rows = store.presence_driver_rows().unwrap();
    assert_eq!(rows.legacy_pre_state.as_deref(), Some(pre));
    assert_eq!(rows.journal_id.len(), 16, "a random id per store");
    assert!(rows.holds.is_empty() && rows.open.is_empty());
    let other = {
        let dir = tempfile::tempdir().unwrap();
        Store::open(&dir.path().join("other.db"))
            .unwrap()
            .presence_driver_rows()
            .unwrap()
            .journal_id
    };
    assert_ne!(rows.journal_id, other);

    let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
    let entry = |state: &str| PresenceJournalRow {
        key: format!("{}-1", rows.journal_id),
        resource: "forwarding".into(),
        purpose: "restore".into(),
        action: r#"{"action":"restore_forwarding","forwarding":"off"}"#.into(),
        state: state.into(),
        attempts: 0,
        last_error: None,
        next_attempt: None,
        created: at("2026-11-24T12:00:00Z"),
        updated: at("2026-11-24T12:00:00Z"),
    };
    let holds = vec![("forwarding".to_owned(), r#"{"hold":"free"}"#.to_owned())];
    fn save<'a>(
        holds: &'a [(String, String)],
        journal: &'a [PresenceJournalRow],
        open: &'a [String],
    ) -> PresenceDriverSave<'a> {
        PresenceDriverSave {
            next_seq: 2,
            headline: None,
            holds,
            journal,
            open_keys: open,
            history: &[],
            end_pause: None,
            keep_after: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }
    // The intent, then its outcome.
    let key = vec![entry("in_flight").key];
    store
        .save_presence_driver(&save(&holds, &[entry("in_flight")], &key))
        .unwrap();
    let rows = store.presence_driver_rows().unwrap();
    assert_eq!(rows.legacy_pre_state, None, "taken over");
    assert_eq!(rows.open, vec![entry("in_flight")]);
    assert_eq!(rows.next_seq, 2);
    store
        .save_presence_driver(&save(&holds, &[entry("done")], &[]))
        .unwrap();
    assert!(store.presence_driver_rows().unwrap().open.is_empty());
    // An entry the driver no longer has open is not left open by a failed save.
    store
        .save_presence_driver(&save(&holds, &[entry("pending")], &[]))
        .unwrap();
    assert!(store.presence_open_journal().unwrap().is_empty());
}

/// The store holds subjects and previews: the file, its write-ahead log and shared memory
/// are the user's only, whatever the umask (0644 files by default).
#[cfg(unix)]
#[test]
fn the_store_and_its_journal_are_private_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("presently.db");
    let mut store = Store::open(&path).unwrap();
    store.set_calendars(&[cal("primary")]).unwrap();
    let mode = |p: &std::path::Path| crate::private::mode(p).unwrap();
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        let file = std::path::PathBuf::from(name);
        assert!(file.exists(), "{file:?}");
        assert_eq!(mode(&file), 0o600, "{file:?}");
    }
}

/// Rows written by a version 10 store (live and a full round's staged ones) read the same
/// after the upgrade to the id-key schema, and are found by id and replaced, not doubled.
#[test]
fn migrates_a_version_10_store_keeping_its_rows_and_a_staged_round() {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("written.db");
    // Version 10 stored no event versions (migration 14 added them).
    let unversioned = |mut a: Appointment| {
        a.change_key = None;
        a
    };
    let items: Vec<Appointment> = [appt("a", 9), all_day("b"), appt("c", 11)]
        .into_iter()
        .map(unversioned)
        .collect();
    let staged = unversioned(appt("s", 12));
    let v10_columns = COLUMNS.trim_end_matches(", change_key");
    assert_ne!(v10_columns, COLUMNS);
    let (before, state_before) = {
        let mut store = Store::open(&written).unwrap();
        store
            .set_calendars(&[cal("primary"), cal("other")])
            .unwrap();
        store
            .apply_changes("primary", &upserts(&items), &state("d1"))
            .unwrap();
        let mut elsewhere = unversioned(appt("a", 14));
        elsewhere.calendar_id = "other".into();
        store
            .apply_changes("other", &upserts(&[elsewhere]), &state("o1"))
            .unwrap();
        let mut round = state("d1");
        round.round = Some(RoundKind::Full);
        round.next_link = Some("page-2".into());
        store.begin_full_round("primary", &round).unwrap();
        store
            .stage_changes("primary", &upserts(std::slice::from_ref(&staged)), &round)
            .unwrap();
        (whole_day(&store), store.sync_state("primary").unwrap())
    };
    // The same rows in a store at version 10, as that build wrote them.
    let path = dir.path().join("store.db");
    {
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..10] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 10).unwrap();
        conn.execute("ATTACH ?1 AS w", [written.to_str().unwrap()])
            .unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO calendars SELECT * FROM w.calendars;
             INSERT INTO sync_state SELECT * FROM w.sync_state;
             INSERT INTO appointments ({v10_columns}) SELECT {v10_columns} FROM w.appointments;
             INSERT INTO staged_appointments ({v10_columns})
                SELECT {v10_columns} FROM w.staged_appointments;
             DETACH w;"
        ))
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(whole_day(&store), before, "the rows read the same");
    assert_eq!(store.sync_state("primary").unwrap(), state_before);
    assert_eq!(store.appointment("c").unwrap(), Some(items[2].clone()));
    // A replay finds the migrated rows: nothing written, nothing doubled.
    let replay = store
        .apply_changes("primary", &upserts(&items), &state("d1"))
        .unwrap();
    assert_eq!(replay, ApplyStats::default());
    // The staged round completes: its row in, the three not in it gone.
    let stats = store.commit_full_round("primary", &state("d2")).unwrap();
    assert_eq!((stats.upserted, stats.removed), (1, 3));
    let now: Vec<String> = whole_day(&store)
        .into_iter()
        .map(|a| format!("{}/{}", a.calendar_id, a.id))
        .collect();
    assert_eq!(now, vec!["primary/s", "other/a"]);
}

/// A version-14 store in the middle of two full rounds (one per calendar), with items
/// noted as seen the way that build noted them (both ids as text): after migration 15 each
/// round completes keeping what it saw, and completing one leaves the other's notes.
#[test]
fn migrates_a_version_14_store_keeping_the_seen_notes_of_rounds_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("written.db");
    {
        let mut store = Store::open(&written).unwrap();
        store
            .set_calendars(&[cal("primary"), cal("other")])
            .unwrap();
        store
            .fill_changes(
                "primary",
                &upserts(&[appt("a", 9), appt("b", 10), appt("c", 11)]),
            )
            .unwrap();
        let mut elsewhere = [appt("x", 9), appt("y", 10)];
        for a in &mut elsewhere {
            a.calendar_id = "other".into();
        }
        store.fill_changes("other", &upserts(&elsewhere)).unwrap();
        let mut round = state("d0");
        round.round = Some(RoundKind::Full);
        round.next_link = Some("page-2".into());
        store.begin_full_round("primary", &round).unwrap();
        store.begin_full_round("other", &round).unwrap();
    }
    let path = dir.path().join("store.db");
    {
        let conn = Connection::open(&path).unwrap();
        // Migration 11 computes keys with the store's function.
        conn.create_scalar_function("presently_id_key", 1, FunctionFlags::SQLITE_UTF8, |ctx| {
            Ok(id_key(ctx.get_raw(0).as_str().unwrap_or_default()))
        })
        .unwrap();
        for sql in &MIGRATIONS[..14] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 14).unwrap();
        conn.execute("ATTACH ?1 AS w", [written.to_str().unwrap()])
            .unwrap();
        conn.execute_batch(
            "INSERT INTO calendars SELECT * FROM w.calendars;
             INSERT INTO sync_state SELECT * FROM w.sync_state;
             INSERT INTO appointments SELECT * FROM w.appointments;
             INSERT INTO staged_seen (calendar_id, id, id_key)
                SELECT calendar_id, id, id_key FROM w.appointments WHERE id IN ('a', 'b', 'x');
             DETACH w;",
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(count(&store, "staged_seen"), 3);
    let stats = store.commit_full_round("primary", &state("d1")).unwrap();
    assert_eq!((stats.upserted, stats.removed), (0, 1), "c was not seen");
    assert_eq!(
        count(&store, "staged_seen"),
        1,
        "the other round's note stays"
    );
    let stats = store.commit_full_round("other", &state("o1")).unwrap();
    assert_eq!((stats.upserted, stats.removed), (0, 1), "y was not seen");
    let ids: Vec<String> = whole_day(&store)
        .into_iter()
        .map(|a| format!("{}/{}", a.calendar_id, a.id))
        .collect();
    assert_eq!(ids, vec!["primary/a", "other/x", "primary/b"]);
    assert_eq!(count(&store, "staged_seen"), 0);
}

/// Two ids that share a key (forced here: a real 64-bit collision is not at hand) are two
/// appointments: each is updated, replayed and removed on its own.
#[test]
fn ids_that_share_a_key_stay_two_appointments() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    store
        .apply_changes(
            "primary",
            &upserts(&[appt("a", 9), appt("b", 10)]),
            &state("d1"),
        )
        .unwrap();
    let mut moved_a = appt("a", 9);
    moved_a.subject = "Moved a".into();
    // c gets a's key, as a collision would give it.
    store
        .apply_changes("primary", &upserts(&[appt("c", 11)]), &state("d3"))
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE appointments SET id_key = ?1 WHERE id = 'c'",
            [id_key("a")],
        )
        .unwrap();
    // Writing a finds its own row among the two with its key, and leaves c alone.
    let stats = store
        .apply_changes("primary", &upserts(&[moved_a.clone()]), &state("d4"))
        .unwrap();
    assert_eq!(stats.upserted, 1);
    assert_eq!(store.appointment("a").unwrap(), Some(moved_a.clone()));
    let rows = whole_day(&store);
    assert_eq!(rows, vec![moved_a.clone(), appt("b", 10), appt("c", 11)]);
    let replay = store
        .apply_changes("primary", &upserts(&[moved_a.clone()]), &state("d4"))
        .unwrap();
    assert_eq!(replay, ApplyStats::default());
    // A full round that brings a changed again, b, and c (staged under its own key, which
    // the forced row does not have) keeps one of each. (Seen notes are by key: had a been
    // unchanged, its note would also have kept c's forced row; with a real collision, both
    // rows having the key, one gone from the server while the other is unchanged is kept
    // until a later round: the price of 16-byte notes, at odds of about 2^-64 per pair.)
    let mut moved_again = moved_a.clone();
    moved_again.subject = "Moved a again".into();
    store.begin_full_round("primary", &state("d4")).unwrap();
    store
        .stage_changes(
            "primary",
            &upserts(&[moved_again.clone(), appt("b", 10), appt("c", 11)]),
            &state("d4"),
        )
        .unwrap();
    store.commit_full_round("primary", &state("d5")).unwrap();
    let ids: Vec<String> = whole_day(&store).into_iter().map(|a| a.id).collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    assert_eq!(store.appointment("a").unwrap(), Some(moved_again));
    let stats = store
        .apply_changes(
            "primary",
            &[EventChange::Removed { id: "a".into() }],
            &state("d6"),
        )
        .unwrap();
    assert_eq!(stats.removed, 1);
    assert_eq!(store.appointment("a").unwrap(), None);
    let ids: Vec<String> = whole_day(&store).into_iter().map(|a| a.id).collect();
    assert_eq!(ids, vec!["b", "c"]);
}

#[test]
fn the_id_key_is_fnv_1a() {
    // Stored in every row: it must never change. Reference values of FNV-1a 64.
    assert_eq!(id_key(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
    assert_eq!(id_key("a"), 0xaf63_dc4c_8601_ec8c_u64 as i64);
    assert_eq!(id_key("foobar"), 0x8594_4171_f739_67e8_u64 as i64);
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// After a first sync's fill, the full round brings what the store already shows: those
/// items are noted as seen, not staged whole, and the swap keeps them, replaces what
/// changed and drops what the round did not bring, across a restart, with a later page's
/// version of an item winning in either order.
#[test]
fn a_full_round_over_filled_data_stages_only_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    let filled = [appt("a", 9), appt("b", 10), appt("c", 11), appt("d", 12)];
    store.fill_changes("primary", &upserts(&filled)).unwrap();
    let mut round = state("d0");
    round.round = Some(RoundKind::Full);
    store.begin_full_round("primary", &round).unwrap();
    let mut moved_b = appt("b", 10);
    moved_b.subject = "Moved b".into();
    let mut moved_c = appt("c", 11);
    moved_c.subject = "Moved c".into();
    // Page 1: a as filled, b changed, c as filled, e new (d is gone from the server).
    store
        .stage_changes(
            "primary",
            &upserts(&[appt("a", 9), moved_b.clone(), appt("c", 11), appt("e", 13)]),
            &round,
        )
        .unwrap();
    assert_eq!(
        (
            count(&store, "staged_appointments"),
            count(&store, "staged_seen")
        ),
        (2, 2),
        "b and e staged whole, a and c noted"
    );
    // A restart mid-round, then page 2: b again as filled (a later version wins: the one
    // the store has), c changed after all.
    drop(store);
    let mut store = Store::open(&dir.path().join("store.db")).unwrap();
    store
        .stage_changes(
            "primary",
            &upserts(&[appt("b", 10), moved_c.clone()]),
            &round,
        )
        .unwrap();
    // A replayed page changes nothing.
    store
        .stage_changes(
            "primary",
            &upserts(&[appt("b", 10), moved_c.clone()]),
            &round,
        )
        .unwrap();
    assert_eq!(
        (
            count(&store, "staged_appointments"),
            count(&store, "staged_seen")
        ),
        (2, 2),
        "c and e staged, a and b noted"
    );
    let stats = store.commit_full_round("primary", &state("d1")).unwrap();
    assert_eq!(
        (stats.upserted, stats.removed),
        (2, 1),
        "c changed, e new, d gone"
    );
    assert_eq!(
        whole_day(&store),
        vec![appt("a", 9), appt("b", 10), moved_c, appt("e", 13)]
    );
    assert_eq!(
        (
            count(&store, "staged_appointments"),
            count(&store, "staged_seen")
        ),
        (0, 0)
    );
}

/// A full round's items whose version the store holds come as `Unchanged` (their JSON not
/// read further): the live row is kept, and a later page's new version still wins.
#[test]
fn a_full_round_keeps_rows_whose_version_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    store
        .fill_changes(
            "primary",
            &upserts(&[appt("a", 9), appt("b", 10), appt("c", 11)]),
        )
        .unwrap();
    let known = store.change_keys("primary").unwrap();
    assert_eq!(known.get("a").map(String::as_str), Some("m1:ck-a"));
    assert_eq!(known.len(), 3);
    let mut round = state("d0");
    round.round = Some(RoundKind::Full);
    store.begin_full_round("primary", &round).unwrap();
    let unchanged = |id: &str| EventChange::Unchanged { id: id.to_owned() };
    let mut moved_b = appt("b", 10);
    moved_b.subject = "Moved b".into();
    moved_b.change_key = Some("m1:ck-b2".into());
    // a and b unchanged, then b's newer version on a later page; c is gone from the server.
    store
        .stage_changes("primary", &[unchanged("a"), unchanged("b")], &round)
        .unwrap();
    store
        .stage_changes("primary", &upserts(&[moved_b.clone()]), &round)
        .unwrap();
    let stats = store.commit_full_round("primary", &state("d1")).unwrap();
    assert_eq!((stats.upserted, stats.removed), (1, 1), "b changed, c gone");
    assert_eq!(whole_day(&store), vec![appt("a", 9), moved_b.clone()]);
    assert_eq!(
        store
            .change_keys("primary")
            .unwrap()
            .get("b")
            .map(String::as_str),
        Some("m1:ck-b2")
    );
    // Outside a round an unchanged item changes nothing.
    let stats = store
        .apply_changes("primary", &[unchanged("a"), unchanged("zz")], &state("d2"))
        .unwrap();
    assert_eq!((stats.upserted, stats.removed), (0, 0));
    assert_eq!(whole_day(&store), vec![appt("a", 9), moved_b]);
}

/// Issue 22: a skip goes with its appointment. An occurrence's when its row is deleted (not
/// when it is updated); a series' when its last occurrence is; the history line and the skip
/// are written together.
#[test]
fn presence_skips_go_with_their_appointments() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_with_primary(&dir);
    let occurrence = |id: &str, hour: u32| Appointment {
        series_master_id: Some("master".to_owned()),
        kind: AppointmentType::Occurrence,
        ..appt(id, hour)
    };
    let items = [
        appt("single", 8),
        occurrence("occ-1", 9),
        occurrence("occ-2", 10),
    ];
    store
        .apply_changes("primary", &upserts(&items), &state("d1"))
        .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 7, 0, 0).unwrap();
    let keep = at - chrono::Duration::days(90);
    let row = |event| PresenceHistoryRow {
        at,
        event,
        profile: None,
        appointment_id: None,
        subject: None,
        presence: None,
        until: None,
        detail: None,
    };
    for (scope, id) in [
        (SkipScope::Occurrence, "single"),
        (SkipScope::Series, "master"),
    ] {
        let skip = PresenceSkip {
            scope,
            id: id.to_owned(),
            subject: None,
            created: at,
        };
        let added = store
            .set_presence_skip(SkipChange::Add(&skip), &row(HistoryKind::Skipped), keep)
            .unwrap();
        assert!(added);
        // Twice: nothing changes, and no second history line.
        let again = store
            .set_presence_skip(SkipChange::Add(&skip), &row(HistoryKind::Skipped), keep)
            .unwrap();
        assert!(!again);
    }
    assert_eq!(store.presence_history(10).unwrap().len(), 2);
    let ids = |store: &Store| -> Vec<(SkipScope, String)> {
        store
            .presence_skips()
            .unwrap()
            .into_iter()
            .map(|s| (s.scope, s.id))
            .collect()
    };
    let skips = PresenceSkips::new(&store.presence_skips().unwrap());
    assert!(skips.covers(&items[0]) && skips.covers(&items[1]) && skips.covers(&items[2]));
    assert!(!skips.covers(&appt("other", 11)));

    // An update keeps both; one occurrence of two deleted keeps the series'.
    let renamed = Appointment {
        subject: "Renamed".to_owned(),
        ..appt("single", 8)
    };
    let mut changes = upserts(&[renamed]);
    changes.push(EventChange::Removed {
        id: "occ-1".to_owned(),
    });
    store
        .apply_changes("primary", &changes, &state("d2"))
        .unwrap();
    assert_eq!(
        ids(&store),
        vec![
            (SkipScope::Occurrence, "single".to_owned()),
            (SkipScope::Series, "master".to_owned())
        ]
    );
    // The single appointment and the series' last occurrence deleted: both go.
    let gone = ["single", "occ-2"].map(|id| EventChange::Removed { id: id.to_owned() });
    store.apply_changes("primary", &gone, &state("d3")).unwrap();
    assert_eq!(ids(&store), vec![]);
    // Unskipping what is not skipped changes nothing.
    let removed = store
        .set_presence_skip(
            SkipChange::Remove {
                scope: SkipScope::Occurrence,
                id: "single",
            },
            &row(HistoryKind::Unskipped),
            keep,
        )
        .unwrap();
    assert!(!removed);
    assert_eq!(store.presence_history(10).unwrap().len(), 2);
}

#[test]
fn the_agenda_reads_each_kind_through_its_own_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_primary(&dir);
    let plan: Vec<String> = store
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", overlapping_sql()))
        .unwrap()
        .query_map(params![1, 0, "2026-11-30", "2026-11-20"], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("appointments_timed_by_start"), "{plan}");
    assert!(plan.contains("appointments_all_day_by_date"), "{plan}");
    assert!(!plan.contains("SCAN appointments"), "{plan}");
}
