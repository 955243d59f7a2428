//! Tests of the scheduler and the plan.
use crate::model::*;

pub(crate) fn appt(id: &str, start: &str, end: &str) -> Appointment {
    base(
        id,
        When::Timed {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        },
    )
}

pub(crate) fn all_day(id: &str, start: &str, end: &str) -> Appointment {
    base(
        id,
        When::AllDay {
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        },
    )
}

fn base(id: &str, when: When) -> Appointment {
    Appointment {
        id: id.into(),
        calendar_id: "primary".into(),
        ical_uid: None,
        subject: format!("Subject of {id}"),
        when,
        original_time_zone: None,
        show_as: ShowAs::Busy,
        response: ResponseStatus::Accepted,
        sensitivity: Sensitivity::Normal,
        cancelled: false,
        location: None,
        organizer: None,
        join_url: None,
        online_provider: None,
        web_link: None,
        series_master_id: None,
        kind: AppointmentType::SingleInstance,
        categories: vec![],
        reminder_on: false,
        reminder_minutes: None,
        body_preview: None,
        last_modified: None,
    }
}
