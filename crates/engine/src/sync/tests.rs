use super::*;

fn graph() -> Url {
    Url::parse("https://graph.microsoft.com").unwrap()
}

fn window() -> Window {
    Window::around("2026-11-24".parse().unwrap(), 30, 180)
}

fn page(next: Option<&str>, delta: Option<&str>) -> CalendarView {
    CalendarView {
        next_link: next.map(str::to_owned),
        delta_link: delta.map(str::to_owned),
        ..Default::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-24T09:00:00Z".parse().unwrap()
}

#[test]
fn the_window_covers_whole_days_around_today() {
    let w = window();
    assert_eq!(w.start.to_rfc3339(), "2026-10-25T00:00:00+00:00");
    assert_eq!(w.end.to_rfc3339(), "2027-05-24T00:00:00+00:00");
}

#[test]
fn first_sync_is_a_full_round_over_the_window() {
    let plan = plan_round(None, &Source::PrimaryDelta, &graph(), window(), false).unwrap();
    assert_eq!(plan.kind, RoundKind::Full);
    assert!(!plan.resumed);
    assert_eq!(
        plan.first_link,
        "https://graph.microsoft.com/v1.0/me/calendarView/delta?startDateTime=2026-10-25T00%3A00%3A00Z&endDateTime=2027-05-24T00%3A00%3A00Z"
    );
}

#[test]
fn later_syncs_use_the_delta_link_verbatim_until_the_window_moves() {
    let state = SyncState {
        delta_link: Some(
            "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=Abc%2B".into(),
        ),
        window_start: Some(window().start),
        window_end: Some(window().end),
        ..Default::default()
    };
    let plan = plan_round(
        Some(&state),
        &Source::PrimaryDelta,
        &graph(),
        window(),
        false,
    )
    .unwrap();
    assert_eq!(plan.kind, RoundKind::Incremental);
    assert_eq!(plan.first_link, state.delta_link.clone().unwrap());
    // A new day moves the window: a full round.
    let tomorrow = Window::around("2026-11-25".parse().unwrap(), 30, 180);
    let plan = plan_round(
        Some(&state),
        &Source::PrimaryDelta,
        &graph(),
        tomorrow,
        false,
    )
    .unwrap();
    assert_eq!(plan.kind, RoundKind::Full);
    // --full forces one.
    let plan = plan_round(
        Some(&state),
        &Source::PrimaryDelta,
        &graph(),
        window(),
        true,
    )
    .unwrap();
    assert_eq!(plan.kind, RoundKind::Full);
    // Calendars without delta always read the whole window.
    let other = Source::CalendarWindow {
        calendar_id: "AAMk/x=".into(),
    };
    let plan = plan_round(Some(&state), &other, &graph(), window(), false).unwrap();
    assert_eq!(plan.kind, RoundKind::Full);
    assert!(plan
        .first_link
        .contains("/v1.0/me/calendars/AAMk%2Fx%3D/calendarView?"));
}

#[test]
fn an_interrupted_round_resumes_from_its_next_link() {
    for kind in [RoundKind::Full, RoundKind::Incremental] {
        let next = "https://graph.microsoft.com/v1.0/me/calendarView/delta?$skiptoken=n-3";
        let state = SyncState {
            delta_link: Some(
                "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=old".into(),
            ),
            next_link: Some(next.into()),
            round: Some(kind),
            window_start: Some(window().start),
            window_end: Some(window().end),
            ..Default::default()
        };
        let plan = plan_round(
            Some(&state),
            &Source::PrimaryDelta,
            &graph(),
            window(),
            false,
        )
        .unwrap();
        assert_eq!(
            (plan.kind, plan.first_link.as_str(), plan.resumed),
            (kind, next, true)
        );
        assert_eq!(plan.moved_from, None);
    }
}

#[test]
fn links_to_another_endpoint_start_a_fresh_full_round() {
    // The demo emulator came back on another port; a national cloud was chosen.
    let old = "http://127.0.0.1:8400";
    for graph in ["http://127.0.0.1:8401", "https://graph.microsoft.us"] {
        let graph = Url::parse(graph).unwrap();
        let completed = SyncState {
            delta_link: Some(format!("{old}/v1.0/me/calendarView/delta?$deltatoken=d")),
            window_start: Some(window().start),
            window_end: Some(window().end),
            ..Default::default()
        };
        let interrupted = SyncState {
            next_link: Some(format!("{old}/v1.0/me/calendarView/delta?$skiptoken=s")),
            round: Some(RoundKind::Incremental),
            ..completed.clone()
        };
        for state in [&completed, &interrupted] {
            let plan =
                plan_round(Some(state), &Source::PrimaryDelta, &graph, window(), false).unwrap();
            assert_eq!((plan.kind, plan.resumed), (RoundKind::Full, false));
            assert!(link_is_on(&plan.first_link, &graph), "{}", plan.first_link);
            assert_eq!(plan.moved_from.as_deref(), Some(old));
        }
    }
    // The same endpoint spelt with its default port is not a move.
    let state = SyncState {
        delta_link: Some(
            "https://graph.microsoft.com:443/v1.0/me/calendarView/delta?$deltatoken=d".into(),
        ),
        window_start: Some(window().start),
        window_end: Some(window().end),
        ..Default::default()
    };
    let plan = plan_round(
        Some(&state),
        &Source::PrimaryDelta,
        &graph(),
        window(),
        false,
    )
    .unwrap();
    assert_eq!((plan.kind, plan.moved_from), (RoundKind::Incremental, None));
}

#[test]
fn other_calendars_use_their_own_delta_unless_graph_refused_it_lately() {
    let now = now();
    assert_eq!(
        Source::for_calendar("A", true, None, now),
        Source::PrimaryDelta
    );
    let delta = Source::for_calendar("AAMk/x=", false, None, now);
    assert!(delta.has_delta());
    let url = delta.initial_url(&graph(), window()).unwrap();
    assert!(
        url.as_str()
            .contains("/v1.0/me/calendars/AAMk%2Fx%3D/calendarView/delta?startDateTime="),
        "{url}"
    );
    let refused = Source::for_calendar("A", false, Some(now - chrono::Duration::days(1)), now);
    assert_eq!(
        refused,
        Source::CalendarWindow {
            calendar_id: "A".into()
        }
    );
    // After a week delta is tried again.
    let later = Source::for_calendar("A", false, Some(now - chrono::Duration::days(8)), now);
    assert!(later.has_delta());
}

#[test]
fn what_counts_as_graph_refusing_delta() {
    assert!(refuses_delta(400, "BadRequest"));
    assert!(refuses_delta(400, "ErrorInvalidRequest"));
    assert!(refuses_delta(404, "ResourceNotFound"));
    assert!(refuses_delta(501, "NotImplemented"));
    // A lost sync state, a missing calendar, a passing fault: not a refusal.
    assert!(!refuses_delta(400, "ErrorInvalidIdMalformed"));
    assert!(!refuses_delta(410, "SyncStateNotFound"));
    assert!(!refuses_delta(404, "ErrorItemNotFound"));
    assert!(!refuses_delta(503, "serviceNotAvailable"));
}

#[test]
fn pages_advance_the_state_and_the_last_one_completes_the_round() {
    let plan = plan_round(None, &Source::PrimaryDelta, &graph(), window(), false).unwrap();
    let mut round = Round::new(&plan, &Source::PrimaryDelta, window(), None, 100);
    let step = round
        .on_page(&page(Some("n-1"), None), now(), None)
        .unwrap();
    let PageStep::Continue { state } = step else {
        panic!("{step:?}")
    };
    assert_eq!(state.next_link.as_deref(), Some("n-1"));
    assert_eq!(state.round, Some(RoundKind::Full));
    assert_eq!(state.last_synced_at, None);
    let step = round
        .on_page(&page(None, Some("d-1")), now(), None)
        .unwrap();
    let PageStep::Complete { state } = step else {
        panic!("{step:?}")
    };
    assert_eq!(state.delta_link.as_deref(), Some("d-1"));
    assert_eq!((state.next_link, state.round), (None, None));
    assert_eq!(state.last_synced_at, Some(now()));
}

#[test]
fn a_repeated_next_link_is_a_loop() {
    let plan = plan_round(None, &Source::PrimaryDelta, &graph(), window(), false).unwrap();
    let mut round = Round::new(&plan, &Source::PrimaryDelta, window(), None, 100);
    round
        .on_page(&page(Some("n-1"), None), now(), None)
        .unwrap();
    round
        .on_page(&page(Some("n-2"), None), now(), None)
        .unwrap();
    assert_eq!(
        round.on_page(&page(Some("n-1"), None), now(), None),
        Err(RoundError::Loop)
    );
    // The first link counts as seen too.
    let mut round = Round::new(&plan, &Source::PrimaryDelta, window(), None, 100);
    let first = plan.first_link.clone();
    assert_eq!(
        round.on_page(&page(Some(&first), None), now(), None),
        Err(RoundError::Loop)
    );
}

#[test]
fn paging_is_bounded_and_delta_pages_need_a_link() {
    let plan = plan_round(None, &Source::PrimaryDelta, &graph(), window(), false).unwrap();
    let mut round = Round::new(&plan, &Source::PrimaryDelta, window(), None, 2);
    round.on_page(&page(Some("a"), None), now(), None).unwrap();
    round.on_page(&page(Some("b"), None), now(), None).unwrap();
    assert_eq!(
        round.on_page(&page(Some("c"), None), now(), None),
        Err(RoundError::TooManyPages(2))
    );
    let mut round = Round::new(&plan, &Source::PrimaryDelta, window(), None, 10);
    assert_eq!(
        round.on_page(&page(None, None), now(), None),
        Err(RoundError::NoLink)
    );
    // A plain calendarView ends with a page without a next link.
    let other = Source::CalendarWindow {
        calendar_id: "c".into(),
    };
    let mut round = Round::new(&plan, &other, window(), None, 10);
    assert!(matches!(
        round.on_page(&page(None, None), now(), None),
        Ok(PageStep::Complete { .. })
    ));
}

/// `sync` decides; `engine` does the I/O around it. An import of `engine` from here would
/// make the two depend on each other again (the sync loop lives in `engine::sync_loop`).
#[test]
fn sync_imports_nothing_from_the_engine() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sync");
    // Spelt in parts so this file does not match itself.
    let needles = [
        ["crate", "engine"].join("::"),
        ["crate", "Engine"].join("::"),
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            assert!(
                !needles.iter().any(|n| code.contains(n.as_str())),
                "{}:{}: {line}",
                path.display(),
                n + 1
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "read {checked} files in {}", dir.display());
}

/// The sub-windows of a fill cover the window exactly: sorted, they join end to start
/// from the window's start to its end.
fn assert_covers_exactly(plan: &FillPlan, window: Window) {
    let mut parts: Vec<Window> = plan.all().copied().filter(|w| w.start < w.end).collect();
    parts.sort_by_key(|w| w.start);
    assert_eq!(
        parts.first().map(|w| w.start),
        Some(window.start),
        "{plan:?}"
    );
    assert_eq!(parts.last().map(|w| w.end), Some(window.end), "{plan:?}");
    for pair in parts.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "a gap or an overlap: {plan:?}");
    }
}

#[test]
fn a_fill_reads_yesterday_to_two_weeks_first_then_the_rest_in_four_parts() {
    let window = window();
    // The user's today began at 23:00 UTC the day before (Europe/Berlin in winter).
    let today_start: DateTime<Utc> = "2026-11-23T23:00:00Z".parse().unwrap();
    let plan = FillPlan::new(window, today_start, FILL_CHUNKS);
    assert_eq!(
        plan.priority,
        Window {
            start: "2026-11-22T23:00:00Z".parse().unwrap(),
            end: "2026-12-08T23:00:00Z".parse().unwrap(),
        }
    );
    assert_eq!(plan.rest.len(), 4, "{plan:?}");
    // The future first (166 days ahead against 30 back: three parts to one).
    assert!(plan.rest[0].start == plan.priority.end, "{plan:?}");
    assert!(plan.rest[3].end == plan.priority.start, "{plan:?}");
    assert_covers_exactly(&plan, window);
}

#[test]
fn a_fill_covers_any_window_exactly_once() {
    let starts = [
        "2026-11-24T00:00:00Z",
        "2026-11-24T13:37:00Z",
        "2026-10-25T01:00:00Z",
        // Today at the window's very edges and outside it.
        "2026-10-25T00:00:00Z",
        "2027-05-23T00:00:00Z",
        "2030-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
    ];
    for (back, ahead) in [(30, 180), (0, 0), (1, 14), (0, 400), (365, 0), (2, 1)] {
        let window = Window::around("2026-11-24".parse().unwrap(), back, ahead);
        for start in starts {
            for chunks in [1, 2, 4, 7] {
                let plan = FillPlan::new(window, start.parse().unwrap(), chunks);
                assert!(
                    plan.rest.len() <= chunks.max(1) + 1,
                    "{back}/{ahead} {start} {chunks}: {plan:?}"
                );
                assert_covers_exactly(&plan, window);
            }
        }
    }
}
