//! The domain model: what Presently knows about an account, its calendars and appointments.
//!
//! Enums mirror Microsoft Graph's values; any value the server adds later maps to
//! `Unknown` rather than failing the parse.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Declares a string enum with Graph's camelCase names and an `Unknown` catch-all.
///
/// Graph does not always write its enums in camelCase (Microsoft's own examples show
/// `"Scheduled"` beside `"alwaysEnabled"`), so values are read without regard to case;
/// what is written (store, agenda JSON) is always the canonical spelling.
macro_rules! graph_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, ts_rs::TS)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
            #[default]
            #[serde(rename = "unknown")]
            Unknown,
        }

        impl $name {
            /// The Graph spelling, also used in the store and the agenda JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown => "unknown",
                }
            }

            /// Parses a Graph spelling in any case; anything unrecognised is `Unknown`.
            pub fn parse(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })+
                $name::Unknown
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Name;
                impl serde::de::Visitor<'_> for Name {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " name"))
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        Ok($name::parse(text))
                    }
                }
                deserializer.deserialize_str(Name)
            }
        }
    };
}

graph_enum!(
    /// How the appointment shows in the user's free/busy.
    ShowAs {
        Free => "free",
        Tentative => "tentative",
        Busy => "busy",
        Oof => "oof",
        WorkingElsewhere => "workingElsewhere",
    }
);

graph_enum!(
    /// The user's answer to the invitation.
    ResponseStatus {
        None => "none",
        Organizer => "organizer",
        TentativelyAccepted => "tentativelyAccepted",
        Accepted => "accepted",
        Declined => "declined",
        NotResponded => "notResponded",
    }
);

graph_enum!(
    Sensitivity {
        Normal => "normal",
        Personal => "personal",
        Private => "private",
        Confidential => "confidential",
    }
);

graph_enum!(
    /// Single appointment, occurrence of a series, changed occurrence, or the series itself.
    AppointmentType {
        SingleInstance => "singleInstance",
        Occurrence => "occurrence",
        Exception => "exception",
        SeriesMaster => "seriesMaster",
    }
);

graph_enum!(
    /// The service of the meeting's join link: Graph's `onlineMeetingProviderType` values,
    /// and the services Presently recognises by their join links (`links.rs`) where Graph
    /// says nothing (a Zoom link in the body of an invitation).
    OnlineMeetingProvider {
        TeamsForBusiness => "teamsForBusiness",
        SkypeForBusiness => "skypeForBusiness",
        SkypeForConsumer => "skypeForConsumer",
        Zoom => "zoom",
        GoogleMeet => "googleMeet",
        Webex => "webex",
        GoTo => "goTo",
    }
);

impl Sensitivity {
    /// Private, personal and confidential appointments never show their subject outside the app.
    pub fn is_private(self) -> bool {
        matches!(
            self,
            Sensitivity::Private | Sensitivity::Personal | Sensitivity::Confidential
        )
    }
}

/// The signed-in Microsoft 365 account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user's object id in the directory.
    pub id: String,
    pub tenant_id: Option<String>,
    pub upn: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub id: String,
    pub name: String,
    /// `#rrggbb` when the server gives one.
    pub color: Option<String>,
    pub is_default: bool,
    pub can_edit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organizer {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// When an appointment happens.
///
/// Timed appointments are instants in UTC; all-day appointments are a local date range
/// (end exclusive) that stays the same date in every time zone the user travels to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    Timed {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    AllDay {
        start: NaiveDate,
        end: NaiveDate,
    },
}

impl When {
    pub fn is_all_day(&self) -> bool {
        matches!(self, When::AllDay { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: String,
    pub calendar_id: String,
    pub ical_uid: Option<String>,
    pub subject: String,
    pub when: When,
    /// The time zone the organizer created it in, as Graph names it (often a Windows name).
    pub original_time_zone: Option<String>,
    pub show_as: ShowAs,
    pub response: ResponseStatus,
    pub sensitivity: Sensitivity,
    pub cancelled: bool,
    pub location: Option<String>,
    pub organizer: Option<Organizer>,
    /// How many people are invited besides the organizer (resources such as rooms not
    /// counted); `None` when the server did not say.
    #[serde(default)]
    pub attendees: Option<u32>,
    /// The link that joins the online meeting: Graph's `onlineMeeting.joinUrl`, else one
    /// found in `onlineMeetingUrl`, the location(s) or the body (`links::find_join_link`).
    pub join_url: Option<String>,
    pub online_provider: Option<OnlineMeetingProvider>,
    /// The meeting ID and passcode the invitation gives ("Meeting ID: 123 456 789 012").
    #[serde(default)]
    pub meeting_id: Option<String>,
    #[serde(default)]
    pub meeting_passcode: Option<String>,
    pub web_link: Option<String>,
    pub series_master_id: Option<String>,
    pub kind: AppointmentType,
    pub categories: Vec<String>,
    pub reminder_on: bool,
    pub reminder_minutes: Option<u32>,
    pub body_preview: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    /// The version the server gave this event (Graph's `changeKey`, prefixed with the version
    /// of Presently's mapping that read it): equal versions mean equal rows, so a full round
    /// need not read an item again. `None` where the source gives none (feeds, old rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_key: Option<String>,
}

impl Appointment {
    /// A busy, accepted, normal single appointment in `calendar_id` with nothing else known,
    /// its subject its id: what other calendar sources and the tests build on
    /// (`Appointment { subject: …, ..Appointment::new(…) }`).
    pub fn new(id: impl Into<String>, calendar_id: impl Into<String>, when: When) -> Self {
        let id = id.into();
        Self {
            subject: id.clone(),
            id,
            calendar_id: calendar_id.into(),
            ical_uid: None,
            when,
            original_time_zone: None,
            show_as: ShowAs::Busy,
            response: ResponseStatus::Accepted,
            sensitivity: Sensitivity::Normal,
            cancelled: false,
            location: None,
            organizer: None,
            attendees: None,
            join_url: None,
            online_provider: None,
            meeting_id: None,
            meeting_passcode: None,
            change_key: None,
            web_link: None,
            series_master_id: None,
            kind: AppointmentType::SingleInstance,
            categories: Vec::new(),
            reminder_on: false,
            reminder_minutes: None,
            body_preview: None,
            last_modified: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_map_to_unknown() {
        let show: ShowAs = serde_json::from_str("\"somethingNew\"").unwrap();
        assert_eq!(show, ShowAs::Unknown);
        let show: ShowAs = serde_json::from_str("\"workingElsewhere\"").unwrap();
        assert_eq!(show, ShowAs::WorkingElsewhere);
        assert_eq!(ResponseStatus::parse("maybeLater"), ResponseStatus::Unknown);
        assert_eq!(
            AppointmentType::parse("exception"),
            AppointmentType::Exception
        );
    }

    #[test]
    fn enum_values_match_without_case_and_serialize_canonically() {
        let show: ShowAs = serde_json::from_str("\"WorkingElsewhere\"").unwrap();
        assert_eq!(show, ShowAs::WorkingElsewhere);
        assert_eq!(serde_json::to_value(show).unwrap(), "workingElsewhere");
        assert_eq!(ShowAs::parse("OOF"), ShowAs::Oof);
        assert_eq!(
            ResponseStatus::parse("NotResponded"),
            ResponseStatus::NotResponded
        );
        assert_eq!(
            Sensitivity::parse("Confidential"),
            Sensitivity::Confidential
        );
        assert_eq!(
            AppointmentType::parse("SeriesMaster"),
            AppointmentType::SeriesMaster
        );
        assert_eq!(
            OnlineMeetingProvider::parse("skypeforbusiness"),
            OnlineMeetingProvider::SkypeForBusiness
        );
        let provider: OnlineMeetingProvider = serde_json::from_str("\"TEAMSFORBUSINESS\"").unwrap();
        assert_eq!(provider, OnlineMeetingProvider::TeamsForBusiness);
        // Unknown values in any case stay unknown, never an error.
        let show: ShowAs = serde_json::from_str("\"Hologram\"").unwrap();
        assert_eq!(show, ShowAs::Unknown);
        assert_eq!(ShowAs::parse("Unknown"), ShowAs::Unknown);
    }

    #[test]
    fn enum_spelling_round_trips() {
        for v in [
            ShowAs::Free,
            ShowAs::Tentative,
            ShowAs::Busy,
            ShowAs::Oof,
            ShowAs::WorkingElsewhere,
            ShowAs::Unknown,
        ] {
            assert_eq!(ShowAs::parse(v.as_str()), v);
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }
}
