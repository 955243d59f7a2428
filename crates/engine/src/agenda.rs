//! Agenda queries: the store's appointments for a run of local days, in the form the UI
//! and `presently agenda --json` show.

use crate::error::Error;
use crate::model::{
    Appointment, AppointmentType, Calendar, OnlineMeetingProvider, ResponseStatus, Sensitivity,
    ShowAs, When,
};
use crate::store::Store;
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;

/// One appointment as the agenda shows it. Times are in the display zone: RFC 3339 with
/// the local offset for timed appointments, plain dates (end exclusive) for all-day ones.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct AgendaItem {
    pub id: String,
    pub calendar: String,
    pub calendar_name: Option<String>,
    pub calendar_color: Option<String>,
    pub subject: String,
    pub start: String,
    pub end: String,
    pub all_day: bool,
    pub show_as: ShowAs,
    pub response: ResponseStatus,
    pub sensitivity: Sensitivity,
    pub cancelled: bool,
    pub location: Option<String>,
    pub organizer: Option<String>,
    pub organizer_email: Option<String>,
    /// People invited besides the organizer (rooms and other resources not counted);
    /// `None` when the server did not say.
    pub attendees: Option<u32>,
    /// The link Join opens: the online meeting's, or one found in the location or body.
    pub join_url: Option<String>,
    /// `teamsForBusiness`, `zoom`, `googleMeet`, `webex`, `goTo`, `skypeForBusiness`,
    /// `skypeForConsumer`; `None` when not known.
    pub online_provider: Option<OnlineMeetingProvider>,
    /// The meeting ID and passcode of the invitation ("123 456 789 012", "abc123").
    pub meeting_id: Option<String>,
    pub meeting_passcode: Option<String>,
    pub web_link: Option<String>,
    pub series_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: AppointmentType,
    pub categories: Vec<String>,
    pub body_preview: Option<String>,
    pub reminder_minutes: Option<u32>,
    /// The presence profile this appointment switches to, when presence automation is on.
    pub presence: Option<String>,
    /// The user said presence automation should not switch for it ("don't switch for this
    /// one": the occurrence or its series).
    pub skipped: bool,
    /// The account the appointment is in, only in an agenda merged across accounts
    /// ([`merge`]); one account's agenda leaves it out, so nothing changes for a user with
    /// one account.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct AgendaDay {
    pub date: NaiveDate,
    pub items: Vec<AgendaItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct AgendaView {
    pub timezone: String,
    pub generated_at: String,
    pub days: Vec<AgendaDay>,
}

/// The instant a local date begins in `tz` (the first instant after a DST gap at midnight).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// Builds the agenda for `days` local days from `from`, in zone `tz`. With a presence
/// `policy`, each item names the profile it would switch to.
pub fn agenda(
    store: &Store,
    tz: Tz,
    from: NaiveDate,
    days: u32,
    now: DateTime<Utc>,
    policy: Option<&crate::presence::Policy>,
    skips: Option<&crate::store::PresenceSkips>,
) -> Result<AgendaView, Error> {
    let to = from
        .checked_add_days(Days::new(u64::from(days)))
        .ok_or_else(|| Error::InvalidInput("the agenda range is out of bounds".into()))?;
    let calendars: HashMap<String, Calendar> = store
        .calendars()?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let appointments = store.appointments_overlapping(
        local_midnight(tz, from),
        local_midnight(tz, to),
        from,
        to,
    )?;
    let mut out = Vec::with_capacity(days as usize);
    let mut date = from;
    while date < to {
        let next = date.succ_opt().unwrap_or(date);
        let (day_start, day_end) = (local_midnight(tz, date), local_midnight(tz, next));
        let mut items: Vec<&Appointment> = appointments
            .iter()
            .filter(|a| match a.when {
                When::Timed { start, end } => {
                    start < day_end && (end > day_start || (start == end && start >= day_start))
                }
                When::AllDay { start, end } => start <= date && date < end,
            })
            .collect();
        items.sort_by_key(|a| match a.when {
            When::AllDay { .. } => (0, day_start),
            When::Timed { start, .. } => (1, start),
        });
        out.push(AgendaDay {
            date,
            items: items
                .into_iter()
                .map(|a| {
                    let mut shown = item(a, tz, calendars.get(&a.calendar_id));
                    shown.presence = policy
                        .and_then(|p| p.profile_for(a))
                        .map(|p| p.name.clone());
                    shown.skipped = skips.is_some_and(|s| s.covers(a));
                    shown
                })
                .collect(),
        });
        if next == date {
            break;
        }
        date = next;
    }
    Ok(AgendaView {
        timezone: tz.name().to_owned(),
        generated_at: now.with_timezone(&tz).to_rfc3339(),
        days: out,
    })
}

/// The agenda as one flat list (each appointment once), as `presently agenda --json` prints it.
pub fn flatten(view: &AgendaView) -> Vec<&AgendaItem> {
    let mut seen = std::collections::HashSet::new();
    view.days
        .iter()
        .flat_map(|d| d.items.iter())
        .filter(|i| seen.insert((&i.account, &i.calendar, &i.id)))
        .collect()
}

fn item(a: &Appointment, tz: Tz, calendar: Option<&Calendar>) -> AgendaItem {
    let (start, end) = match a.when {
        When::Timed { start, end } => (
            start.with_timezone(&tz).to_rfc3339(),
            end.with_timezone(&tz).to_rfc3339(),
        ),
        When::AllDay { start, end } => (start.to_string(), end.to_string()),
    };
    let organizer = a.organizer.as_ref();
    AgendaItem {
        id: a.id.clone(),
        calendar: a.calendar_id.clone(),
        calendar_name: calendar.map(|c| c.name.clone()),
        calendar_color: calendar.and_then(|c| c.color.clone()),
        subject: a.subject.clone(),
        start,
        end,
        all_day: a.when.is_all_day(),
        show_as: a.show_as,
        response: a.response,
        sensitivity: a.sensitivity,
        cancelled: a.cancelled,
        location: a.location.clone(),
        organizer: organizer.and_then(|o| o.name.clone().or_else(|| o.email.clone())),
        organizer_email: organizer.and_then(|o| o.email.clone()),
        attendees: a.attendees,
        join_url: a.join_url.clone(),
        online_provider: a.online_provider,
        meeting_id: a.meeting_id.clone(),
        meeting_passcode: a.meeting_passcode.clone(),
        web_link: a.web_link.clone(),
        series_id: a.series_master_id.clone(),
        kind: a.kind,
        categories: a.categories.clone(),
        body_preview: a.body_preview.clone(),
        reminder_minutes: a.reminder_minutes,
        presence: None,
        skipped: false,
        account: None,
    }
}

/// Merges the agendas of several accounts, each given with its account's name, into one:
/// every item carries its account, the days are the union of theirs, and each day lists
/// all-day appointments first, then by start, the same instant in the order the accounts
/// were given. The views must be in one zone (the first one's is kept); what the window,
/// the tray and `presently agenda --all-accounts` show.
pub fn merge(views: Vec<(String, AgendaView)>) -> AgendaView {
    let mut timezone = None;
    let mut generated_at = None;
    let mut days: std::collections::BTreeMap<NaiveDate, Vec<AgendaItem>> = Default::default();
    for (account, view) in views {
        timezone.get_or_insert(view.timezone);
        generated_at.get_or_insert(view.generated_at);
        for day in view.days {
            let items = days.entry(day.date).or_default();
            items.extend(day.items.into_iter().map(|mut item| {
                item.account = Some(account.clone());
                item
            }));
        }
    }
    // A start that does not parse sorts first rather than failing the whole agenda.
    let key = |item: &AgendaItem| {
        (
            !item.all_day,
            DateTime::parse_from_rfc3339(&item.start).map_or(0, |t| t.timestamp()),
        )
    };
    AgendaView {
        timezone: timezone.unwrap_or_else(|| "UTC".to_owned()),
        generated_at: generated_at.unwrap_or_default(),
        days: days
            .into_iter()
            .map(|(date, mut items)| {
                // Stable: the same instant keeps the accounts' order.
                items.sort_by_key(key);
                AgendaDay { date, items }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::EventChange;
    use crate::model::*;
    use crate::store::SyncState;

    fn appt(id: &str, when: When) -> Appointment {
        Appointment {
            response: ResponseStatus::Organizer,
            ..Appointment::new(id, "primary", when)
        }
    }

    fn timed(id: &str, start: &str, end: &str) -> Appointment {
        appt(
            id,
            When::Timed {
                start: start.parse().unwrap(),
                end: end.parse().unwrap(),
            },
        )
    }

    fn store_with(items: Vec<Appointment>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .set_calendars(&[Calendar {
                id: "primary".into(),
                name: "Calendar".into(),
                color: Some("#0078d4".into()),
                is_default: true,
                can_edit: true,
            }])
            .unwrap();
        let changes: Vec<_> = items
            .into_iter()
            .map(|a| EventChange::Upsert(Box::new(a)))
            .collect();
        store
            .apply_changes("primary", &changes, &SyncState::default())
            .unwrap();
        (dir, store)
    }

    fn ids(day: &AgendaDay) -> Vec<&str> {
        day.items.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn groups_by_local_day_across_the_dst_change() {
        // Europe/Berlin switches to summer time at 02:00 on 2026-03-29 (a 23-hour day).
        let tz = chrono_tz::Europe::Berlin;
        let (_d, store) = store_with(vec![
            // 23:30 local on the 28th (UTC+1).
            timed("late", "2026-03-28T22:30:00Z", "2026-03-28T23:00:00Z"),
            // 00:30 local on the 30th (UTC+2) = 22:30 UTC on the 29th.
            timed(
                "after-midnight",
                "2026-03-29T22:30:00Z",
                "2026-03-29T23:00:00Z",
            ),
            // 09:00 local on the 29th, now UTC+2.
            timed("morning", "2026-03-29T07:00:00Z", "2026-03-29T08:00:00Z"),
            appt(
                "all-day",
                When::AllDay {
                    start: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
                    end: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
                },
            ),
        ]);
        let from = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
        let view = agenda(
            &store,
            tz,
            from,
            3,
            "2026-03-28T08:00:00Z".parse().unwrap(),
            None,
            None,
        )
        .unwrap();
        assert_eq!(view.days.len(), 3);
        assert_eq!(ids(&view.days[0]), vec!["late"]);
        assert_eq!(ids(&view.days[1]), vec!["all-day", "morning"]);
        assert_eq!(ids(&view.days[2]), vec!["after-midnight"]);
        assert_eq!(view.days[1].items[1].start, "2026-03-29T09:00:00+02:00");
        assert_eq!(view.days[1].items[0].start, "2026-03-29");
        assert_eq!(view.days[0].items[0].start, "2026-03-28T23:30:00+01:00");
    }

    #[test]
    fn all_day_dates_do_not_move_with_the_zone() {
        let (_d, store) = store_with(vec![appt(
            "holiday",
            When::AllDay {
                start: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
                end: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
            },
        )]);
        for tz in [
            chrono_tz::Pacific::Auckland,
            chrono_tz::America::Los_Angeles,
            chrono_tz::UTC,
        ] {
            let from = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
            let view = agenda(
                &store,
                tz,
                from,
                3,
                "2026-03-28T00:00:00Z".parse().unwrap(),
                None,
                None,
            )
            .unwrap();
            assert!(view.days[0].items.is_empty(), "{tz}");
            assert_eq!(ids(&view.days[1]), vec!["holiday"], "{tz}");
            assert!(view.days[2].items.is_empty(), "{tz}");
        }
    }

    #[test]
    fn multi_day_items_show_on_each_day_once_in_the_flat_list() {
        let (_d, store) = store_with(vec![timed(
            "offsite",
            "2026-11-24T08:00:00Z",
            "2026-11-26T16:00:00Z",
        )]);
        let from = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let view = agenda(
            &store,
            chrono_tz::UTC,
            from,
            5,
            "2026-11-23T00:00:00Z".parse().unwrap(),
            None,
            None,
        )
        .unwrap();
        let counts: Vec<usize> = view.days.iter().map(|d| d.items.len()).collect();
        assert_eq!(counts, vec![0, 1, 1, 1, 0]);
        assert_eq!(flatten(&view).len(), 1);
        assert_eq!(view.days[1].items[0].presence, None, "no policy, no mark");
        // With presence on, the busy appointment names the profile it switches to.
        let policy =
            crate::presence::Policy::defaults(crate::presence::profile::Capabilities::default());
        let marked = agenda(
            &store,
            chrono_tz::UTC,
            from,
            5,
            "2026-11-23T00:00:00Z".parse().unwrap(),
            Some(&policy),
            None,
        )
        .unwrap();
        assert_eq!(
            marked.days[1].items[0].presence.as_deref(),
            Some("In a meeting")
        );
        assert_eq!(
            view.days[1].items[0].calendar_name.as_deref(),
            Some("Calendar")
        );
    }

    #[test]
    fn the_attendee_count_reaches_the_item_and_its_json() {
        let mut meeting = timed("meeting", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
        meeting.attendees = Some(4);
        let unknown = timed("unknown", "2026-11-24T11:00:00Z", "2026-11-24T12:00:00Z");
        let (_d, store) = store_with(vec![meeting, unknown]);
        let view = agenda(
            &store,
            chrono_tz::UTC,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            1,
            "2026-11-24T08:00:00Z".parse().unwrap(),
            None,
            None,
        )
        .unwrap();
        let items = &view.days[0].items;
        assert_eq!(items[0].attendees, Some(4));
        assert_eq!(items[1].attendees, None);
        let json = serde_json::to_value(flatten(&view)).unwrap();
        assert_eq!(json[0]["attendees"], 4);
        assert!(json[1]["attendees"].is_null());
    }

    #[test]
    fn a_merged_agenda_orders_each_day_by_time_and_names_each_items_account() {
        let at = "2026-11-24T08:00:00Z".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let view_of = |items: Vec<Appointment>| {
            let (_d, store) = store_with(items);
            agenda(&store, chrono_tz::UTC, day, 2, at, None, None).unwrap()
        };
        let work = view_of(vec![
            timed("w-late", "2026-11-24T15:00:00Z", "2026-11-24T16:00:00Z"),
            timed("w-same", "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z"),
        ]);
        let customer = view_of(vec![
            timed("c-early", "2026-11-24T09:00:00Z", "2026-11-24T09:30:00Z"),
            timed("c-same", "2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z"),
            timed("c-next", "2026-11-25T09:00:00Z", "2026-11-25T09:30:00Z"),
        ]);
        assert!(work.days[0].items.iter().all(|i| i.account.is_none()));
        let merged = merge(vec![("work".into(), work), ("customer".into(), customer)]);
        assert_eq!(merged.timezone, "UTC");
        assert_eq!(merged.days.len(), 2);
        assert_eq!(
            ids(&merged.days[0]),
            ["c-early", "w-same", "c-same", "w-late"]
        );
        let accounts: Vec<_> = merged.days[0]
            .items
            .iter()
            .map(|i| i.account.as_deref())
            .collect();
        assert_eq!(
            accounts,
            [
                Some("customer"),
                Some("work"),
                Some("customer"),
                Some("work")
            ]
        );
        assert_eq!(ids(&merged.days[1]), ["c-next"]);
        let json = serde_json::to_value(flatten(&merged)).unwrap();
        assert_eq!(json[0]["account"], "customer");
    }

    #[test]
    fn one_accounts_agenda_has_no_account_field() {
        let (_d, store) = store_with(vec![timed(
            "a",
            "2026-11-24T09:00:00Z",
            "2026-11-24T10:00:00Z",
        )]);
        let view = agenda(
            &store,
            chrono_tz::UTC,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            1,
            "2026-11-24T08:00:00Z".parse().unwrap(),
            None,
            None,
        )
        .unwrap();
        let json = serde_json::to_value(flatten(&view)).unwrap();
        assert!(json[0].get("account").is_none());
    }
}
