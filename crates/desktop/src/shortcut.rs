//! The global shortcut "join the next meeting" (issue 22, `app.join_shortcut`, Ctrl+Alt+J
//! by default): which meeting it joins, decided by a pure function of the agenda and the
//! instant, so the window app (which registers the shortcut through Tauri's global-shortcut
//! plugin) and its tests agree.

use chrono::{DateTime, Utc};
use presently_engine::agenda::{AgendaItem, AgendaView};
use presently_engine::model::ResponseStatus;

/// How far ahead a meeting counts as "the next one" to join.
pub const JOIN_AHEAD_MINUTES: i64 = 10;

/// What the shortcut does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinNext {
    /// Joins this appointment's online meeting (its id).
    Join(String),
    /// No meeting to join now: the agenda is shown instead.
    ShowAgenda,
}

/// The meeting the shortcut joins at `now`: of the timed appointments with a join link,
/// not cancelled and not declined, that are under way or begin within
/// [`JOIN_AHEAD_MINUTES`], the one whose start is nearest to `now` (so a meeting about to
/// begin wins over one that began long ago, and one that began two minutes ago over one
/// in eight; on a tie, the earlier start, then the id). None of them: the agenda.
pub fn join_next(agenda: &AgendaView, now: DateTime<Utc>) -> JoinNext {
    let horizon = now + chrono::Duration::minutes(JOIN_AHEAD_MINUTES);
    agenda
        .days
        .iter()
        .flat_map(|d| d.items.iter())
        .filter(|i| joinable(i))
        .filter_map(|i| {
            let start = DateTime::parse_from_rfc3339(&i.start).ok()?.to_utc();
            let end = DateTime::parse_from_rfc3339(&i.end).ok()?.to_utc();
            (start <= horizon && end > now).then_some((start, i))
        })
        .min_by(|(a, x), (b, y)| {
            let distance = |t: DateTime<Utc>| (t - now).abs();
            (distance(*a), *a, &x.id).cmp(&(distance(*b), *b, &y.id))
        })
        .map_or(JoinNext::ShowAgenda, |(_, i)| JoinNext::Join(i.id.clone()))
}

fn joinable(i: &AgendaItem) -> bool {
    !i.all_day && !i.cancelled && i.response != ResponseStatus::Declined && i.join_url.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use presently_engine::agenda::AgendaDay;

    fn meeting(id: &str, start: &str, end: &str) -> AgendaItem {
        let mut i = crate::tray::tests::item(id, id, start, end);
        i.join_url = Some(format!("https://teams.microsoft.com/l/meetup-join/{id}"));
        i
    }

    fn view(items: Vec<AgendaItem>) -> AgendaView {
        AgendaView {
            timezone: "Europe/Berlin".into(),
            generated_at: "2026-11-24T09:00:00+01:00".into(),
            days: vec![AgendaDay {
                date: "2026-11-24".parse().unwrap(),
                items,
            }],
        }
    }

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().to_utc()
    }

    #[test]
    fn joins_the_meeting_under_way_or_starting_within_ten_minutes_else_shows_the_agenda() {
        let agenda = view(vec![
            meeting(
                "standup",
                "2026-11-24T09:30:00+01:00",
                "2026-11-24T10:00:00+01:00",
            ),
            meeting(
                "review",
                "2026-11-24T10:00:00+01:00",
                "2026-11-24T11:00:00+01:00",
            ),
        ]);
        let join = |id: &str| JoinNext::Join(id.into());
        // 11 minutes ahead: not yet.
        assert_eq!(
            join_next(&agenda, at("2026-11-24T09:19:00+01:00")),
            JoinNext::ShowAgenda
        );
        // Exactly 10 minutes ahead, and under way.
        assert_eq!(
            join_next(&agenda, at("2026-11-24T09:20:00+01:00")),
            join("standup")
        );
        // The review is 16 minutes away: the standup, still under way.
        assert_eq!(
            join_next(&agenda, at("2026-11-24T09:44:00+01:00")),
            join("standup")
        );
        assert_eq!(
            join_next(&agenda, at("2026-11-24T09:31:00+01:00")),
            join("standup")
        );
        // Back to back: the one about to begin wins over the one that began long ago.
        assert_eq!(
            join_next(&agenda, at("2026-11-24T09:52:00+01:00")),
            join("review")
        );
        // The review under way: it, not the standup that ended.
        assert_eq!(
            join_next(&agenda, at("2026-11-24T10:59:00+01:00")),
            join("review")
        );
        // At its end a meeting is over.
        assert_eq!(
            join_next(&agenda, at("2026-11-24T11:00:00+01:00")),
            JoinNext::ShowAgenda
        );
    }

    #[test]
    fn skips_meetings_without_a_link_cancelled_declined_and_all_day() {
        let mut no_link = meeting(
            "no-link",
            "2026-11-24T09:00:00+01:00",
            "2026-11-24T10:00:00+01:00",
        );
        no_link.join_url = None;
        let mut cancelled = meeting(
            "cancelled",
            "2026-11-24T09:00:00+01:00",
            "2026-11-24T10:00:00+01:00",
        );
        cancelled.cancelled = true;
        let mut declined = meeting(
            "declined",
            "2026-11-24T09:00:00+01:00",
            "2026-11-24T10:00:00+01:00",
        );
        declined.response = ResponseStatus::Declined;
        let mut all_day = meeting("all-day", "2026-11-24", "2026-11-25");
        all_day.all_day = true;
        let now = at("2026-11-24T09:05:00+01:00");
        let agenda = view(vec![no_link, cancelled, declined, all_day]);
        assert_eq!(join_next(&agenda, now), JoinNext::ShowAgenda);
        let mut with_one = agenda.clone();
        with_one.days[0].items.push(meeting(
            "ok",
            "2026-11-24T09:00:00+01:00",
            "2026-11-24T10:00:00+01:00",
        ));
        assert_eq!(join_next(&with_one, now), JoinNext::Join("ok".into()));
    }
}
