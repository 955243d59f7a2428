//! The demo mailbox: a realistic work week around `today`, deterministic from `today` and the
//! mailbox zone (same inputs, same events and ids).

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};
use chrono_tz::Tz;

use crate::mailbox::{
    blank_record, ical_uid, item_id, Attendee, Calendar, EmailAddress, EventRecord, Exception,
    Mailbox, OccurrenceOverride, User,
};
use crate::recurrence::{PatternType, RangeType, Recurrence};
use crate::{tz, EmulatorConfig, Seed, DEMO_UPN};

/// The demo user's object id.
pub const DEMO_USER_ID: &str = "48d31887-5fad-4d73-a9f5-3c356e68a038";
/// Id of the primary calendar.
pub const PRIMARY_CALENDAR_ID: &str = "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEGAAA=";
/// Id of the second calendar ("Team holidays").
pub const HOLIDAYS_CALENDAR_ID: &str = "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAGHAAA=";

pub fn demo_user() -> User {
    User {
        id: DEMO_USER_ID.into(),
        display_name: "Megan Bowen".into(),
        given_name: "Megan".into(),
        surname: "Bowen".into(),
        upn: DEMO_UPN.into(),
        mail: DEMO_UPN.into(),
        job_title: "Engineering Manager".into(),
    }
}

fn calendars() -> Vec<Calendar> {
    vec![
        Calendar {
            id: PRIMARY_CALENDAR_ID.into(),
            name: "Calendar".into(),
            color: "auto".into(),
            hex_color: String::new(),
            is_default: true,
            can_edit: true,
            change_key: "fJKVL07sbkmIfHqjbDnRgQAAAAACNg==".into(),
        },
        Calendar {
            id: HOLIDAYS_CALENDAR_ID.into(),
            name: "Team holidays".into(),
            color: "lightGreen".into(),
            hex_color: "#87d28e".into(),
            is_default: false,
            can_edit: true,
            change_key: "fJKVL07sbkmIfHqjbDnRgQAAAAADEw==".into(),
        },
    ]
}

/// The Monday of the demo's work week: this week's on a working day, the next one on a
/// Saturday or Sunday, so that a demo started at the weekend shows the work week ahead
/// rather than one that is over.
pub fn week_monday(today: NaiveDate) -> NaiveDate {
    match today.weekday() {
        Weekday::Sat => today + Duration::days(2),
        Weekday::Sun => today + Duration::days(1),
        day => today - Duration::days(i64::from(day.num_days_from_monday())),
    }
}

pub fn build(cfg: &EmulatorConfig) -> Mailbox {
    build_for(demo_user(), cfg.today, cfg.mailbox_tz, cfg.seed)
}

/// A mailbox of `user` seeded like the demo user's (the same week of meetings, organized
/// by `user`): the tenant's other users that server mode syncs.
pub fn build_for(user: User, today: NaiveDate, tz: Tz, seed: Seed) -> Mailbox {
    let mut mb = Mailbox::new(user.clone(), calendars(), tz);
    if matches!(seed, Seed::Empty) {
        return mb;
    }
    let monday = week_monday(today);
    let b = Builder { tz, monday, user };
    for r in b.events() {
        mb.put(r);
    }
    mb
}

fn person(name: &str) -> EmailAddress {
    let address = format!(
        "{}@contoso.onmicrosoft.com",
        name.to_lowercase().replace(' ', ".")
    );
    EmailAddress {
        name: name.into(),
        address,
    }
}

fn attendee(name: &str, response: &str) -> Attendee {
    Attendee {
        email: person(name),
        kind: "required".into(),
        response: response.into(),
    }
}

/// A meeting room booked as a resource attendee (the service lists rooms among attendees
/// with `type: resource`).
fn room(name: &str, mailbox: &str) -> Attendee {
    Attendee {
        email: EmailAddress {
            name: name.into(),
            address: format!("{mailbox}@contoso.onmicrosoft.com"),
        },
        kind: "resource".into(),
        response: "accepted".into(),
    }
}

fn teams_url(seed: &str) -> String {
    let h = ical_uid(seed);
    format!(
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{}%40thread.v2/0?context=%7b%22Tid%22%3a%22{}%22%2c%22Oid%22%3a%22{}%22%7d",
        &h[40..72].to_lowercase(),
        crate::DEMO_TENANT_ID,
        DEMO_USER_ID
    )
}

struct Builder {
    tz: Tz,
    monday: NaiveDate,
    user: User,
}

impl Builder {
    fn at(&self, day: i64, h: u32, m: u32) -> NaiveDateTime {
        (self.monday + Duration::days(day))
            .and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
    }

    /// Tuesday 08:00 in `remote` as a wall-clock time there, when that is between 07:00 and
    /// 20:00 on Tuesday in the mailbox zone; otherwise Tuesday 17:00 here, as a wall-clock
    /// time in `remote`.
    fn seattle_morning(&self, remote: Tz) -> NaiveDateTime {
        let there = self.at(1, 8, 0);
        let here = tz::local_to_utc(remote, there)
            .with_timezone(&self.tz)
            .naive_local();
        let working =
            here.date() == self.monday + Duration::days(1) && (7..20).contains(&here.time().hour());
        if working {
            there
        } else {
            tz::local_to_utc(self.tz, self.at(1, 17, 0))
                .with_timezone(&remote)
                .naive_local()
        }
    }

    /// Deterministic "created" stamp: some days before the event's week.
    fn stamp(&self, days_before_monday: i64, minute: u32) -> DateTime<Utc> {
        let d = self.monday - Duration::days(days_before_monday);
        Utc.from_utc_datetime(
            &d.and_time(NaiveTime::from_hms_opt(8, minute % 60, 0).unwrap_or(NaiveTime::MIN)),
        )
    }

    fn base(
        &self,
        key: &str,
        calendar: &str,
        subject: &str,
        start: NaiveDateTime,
        end: NaiveDateTime,
    ) -> EventRecord {
        let id = item_id(&format!("demo/{key}/{}", self.monday));
        let created = self.stamp(10, key.len() as u32 * 7);
        let mut r = blank_record(id, calendar.to_string(), self.tz, &self.user, created);
        r.ical_uid = ical_uid(&format!("demo/{key}"));
        r.subject = subject.into();
        r.start = start;
        r.end = end;
        r.last_modified = created + Duration::hours(2);
        r
    }

    /// A meeting organised by someone else, to which the user was invited.
    fn invite(&self, r: &mut EventRecord, organizer: &str, response: &str, others: &[&str]) {
        r.is_organizer = false;
        r.organizer = person(organizer);
        r.response = response.into();
        r.response_time = (response != "none" && response != "notResponded")
            .then(|| r.created + Duration::hours(3));
        let mut att = vec![Attendee {
            email: EmailAddress {
                name: self.user.display_name.clone(),
                address: self.user.mail.clone(),
            },
            kind: "required".into(),
            response: response.into(),
        }];
        att.extend(others.iter().map(|n| attendee(n, "accepted")));
        r.attendees = att;
    }

    fn teams(&self, r: &mut EventRecord, seed: &str) {
        r.join_url = Some(teams_url(seed));
        r.online_meeting_provider = "teamsForBusiness".into();
        r.body_html = format!(
            "<html><body><div>{}</div><div>________________________________________________________________________________</div><div><b>Microsoft Teams</b> <a href=\"{}\">Join the meeting now</a></div><div>Meeting ID: 318 552 907 113 Passcode: 7Ht9Qa</div></body></html>",
            r.subject,
            teams_url(seed)
        );
    }

    fn events(&self) -> Vec<EventRecord> {
        let cal = PRIMARY_CALENDAR_ID;
        let mut out = Vec::new();

        // Daily stand-up: weekdays 09:15–09:30 from the previous week to the end of next
        // week; Wednesday's moved to 10:00 (exception), Thursday's cancelled.
        let mut standup = self.base(
            "standup",
            cal,
            "Daily stand-up",
            self.at(-7, 9, 15),
            self.at(-7, 9, 30),
        );
        self.invite(
            &mut standup,
            "Lena Fischer",
            "accepted",
            &["Tom Becker", "Priya Nair", "Jonas Weber"],
        );
        self.teams(&mut standup, "standup");
        standup.recurrence = Some(Recurrence {
            pattern: PatternType::Weekly,
            interval: 1,
            days_of_week: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            first_day_of_week: Weekday::Mon,
            day_of_month: 0,
            range: RangeType::EndDate,
            start_date: self.monday - Duration::days(7),
            end_date: Some(self.monday + Duration::days(11)),
            number_of_occurrences: 0,
            recurrence_time_zone: tz::windows_name(self.tz),
        });
        standup.reminder_minutes = 5;
        standup.categories = vec!["Team".into()];
        standup.exceptions.insert(
            self.monday + Duration::days(2),
            Exception::Modified(Box::new(OccurrenceOverride {
                start: self.at(2, 10, 0),
                end: self.at(2, 10, 15),
                subject: None,
                location: None,
                show_as: None,
                last_modified: self.stamp(1, 12),
                change_count: 1,
            })),
        );
        standup
            .exceptions
            .insert(self.monday + Duration::days(3), Exception::Cancelled);
        out.push(standup);

        // Monday.
        let mut planning = self.base(
            "sprint-planning",
            cal,
            "Sprint planning",
            self.at(0, 10, 0),
            self.at(0, 11, 30),
        );
        self.invite(
            &mut planning,
            "Lena Fischer",
            "accepted",
            &["Tom Becker", "Priya Nair"],
        );
        self.teams(&mut planning, "sprint-planning");
        out.push(planning);

        let mut cancelled = self.base(
            "vendor-checkin",
            cal,
            "Canceled: Vendor contract check-in",
            self.at(0, 13, 0),
            self.at(0, 13, 30),
        );
        self.invite(&mut cancelled, "Daniel Kraus", "accepted", &[]);
        cancelled.is_cancelled = true;
        cancelled.importance = "high".into();
        cancelled.show_as = "free".into();
        cancelled.body_html = "<html><body><p>Sorry, we need to cancel this one. Let's catch up next week.</p></body></html>".into();
        out.push(cancelled);

        let mut allhands = self.base(
            "allhands",
            cal,
            "Marketing all-hands",
            self.at(0, 16, 0),
            self.at(0, 17, 0),
        );
        self.invite(
            &mut allhands,
            "Nestor Wilke",
            "declined",
            &[
                "Isaiah Langer",
                "Patti Fernandez",
                "Lynne Robbins",
                "Grady Archie",
                "Alex Wilber",
                "Diego Siciliani",
                "Johanna Lorenz",
                "Adele Vance",
                "Joni Sherman",
                "Miriam Graham",
                "Lidia Holloway",
                "Pradeep Gupta",
            ],
        );
        allhands.show_as = "free".into();
        self.teams(&mut allhands, "allhands");
        out.push(allhands);

        // Tuesday: all-day code freeze; overlapping review and escalation; a call with
        // Seattle set up in Pacific time.
        let mut freeze = self.base(
            "code-freeze",
            cal,
            "Release 4.2 code freeze",
            self.at(1, 0, 0),
            self.at(2, 0, 0),
        );
        freeze.is_all_day = true;
        freeze.show_as = "free".into();
        freeze.is_reminder_on = false;
        freeze.reminder_minutes = 1080;
        freeze.categories = vec!["Project".into()];
        out.push(freeze);

        let mut arch = self.base(
            "arch-review",
            cal,
            "Architecture review: sync engine",
            self.at(1, 14, 0),
            self.at(1, 15, 0),
        );
        self.teams(&mut arch, "arch-review");
        arch.location = "Room 4.12 (Berlin)".into();
        arch.attendees = vec![
            attendee("Tom Becker", "accepted"),
            attendee("Priya Nair", "tentativelyAccepted"),
            room("Room 4.12 (Berlin)", "room412.berlin"),
        ];
        out.push(arch);

        let mut escalation = self.base(
            "escalation",
            cal,
            "Customer escalation: Contoso Retail",
            self.at(1, 14, 30),
            self.at(1, 15, 30),
        );
        self.invite(
            &mut escalation,
            "Diego Siciliani",
            "accepted",
            &["Alex Wilber"],
        );
        self.teams(&mut escalation, "escalation");
        escalation.importance = "high".into();
        out.push(escalation);

        // Set up in Seattle, in Pacific time: 08:00–08:45 there when that is a working hour
        // here (17:00 in Berlin), else at 17:00 here (the mailbox may be anywhere).
        let pacific = chrono_tz::America::Los_Angeles;
        let seattle_start = self.seattle_morning(pacific);
        let mut seattle = self.base(
            "seattle-sync",
            cal,
            "Sync with Seattle platform team",
            seattle_start,
            seattle_start + Duration::minutes(45),
        );
        seattle.tz = pacific;
        self.invite(&mut seattle, "Mike Johnson", "accepted", &["Sara Davis"]);
        seattle.organizer.address = "mike.johnson@fabrikam.example".into();
        self.teams(&mut seattle, "seattle-sync");
        out.push(seattle);

        // Wednesday: back-to-back 11:00–13:00, tentative, not responded.
        let mut one_on_one = self.base(
            "one-on-one",
            cal,
            "1:1 Sarah / Megan",
            self.at(2, 11, 0),
            self.at(2, 11, 30),
        );
        self.invite(&mut one_on_one, "Sarah Klein", "accepted", &[]);
        self.teams(&mut one_on_one, "one-on-one");
        out.push(one_on_one);

        let mut roadmap = self.base(
            "roadmap",
            cal,
            "Roadmap sync",
            self.at(2, 11, 30),
            self.at(2, 12, 0),
        );
        self.invite(
            &mut roadmap,
            "Patti Fernandez",
            "tentativelyAccepted",
            &["Lynne Robbins"],
        );
        roadmap.show_as = "tentative".into();
        self.teams(&mut roadmap, "roadmap");
        out.push(roadmap);

        let mut lunch = self.base(
            "lunch-learn",
            cal,
            "Lunch & learn: async Rust",
            self.at(2, 12, 0),
            self.at(2, 13, 0),
        );
        self.invite(
            &mut lunch,
            "Jonas Weber",
            "accepted",
            &["Tom Becker", "Priya Nair", "Lena Fischer", "Sarah Klein"],
        );
        for a in lunch.attendees.iter_mut().skip(1) {
            a.kind = "optional".into();
        }
        lunch.location = "Cafeteria, 2nd floor".into();
        out.push(lunch);

        let mut budget = self.base(
            "budget",
            cal,
            "Budget review Q1",
            self.at(2, 15, 0),
            self.at(2, 16, 0),
        );
        self.invite(
            &mut budget,
            "Johanna Lorenz",
            "notResponded",
            &["Grady Archie"],
        );
        budget.show_as = "tentative".into();
        self.teams(&mut budget, "budget");
        out.push(budget);

        // Thursday: a Zoom call (link only in location and body) and a private appointment.
        let zoom_url = "https://fabrikam.zoom.us/j/84512937761?pwd=dGhpc2lzbm90YXJlYWxwYXNzd29yZA";
        let mut zoom = self.base(
            "vendor-demo",
            cal,
            "Vendor demo: Fabrikam analytics",
            self.at(3, 13, 0),
            self.at(3, 14, 0),
        );
        self.invite(&mut zoom, "Carlos Slattery", "accepted", &[]);
        zoom.organizer.address = "carlos.slattery@fabrikam.example".into();
        zoom.location = zoom_url.into();
        zoom.body_html = format!(
            "<html><body><p>Hi all, looking forward to showing you the new dashboards.</p><p>Join Zoom Meeting<br><a href=\"{zoom_url}\">{zoom_url}</a></p><p>Meeting ID: 845 1293 7761</p></body></html>"
        );
        out.push(zoom);

        let mut doctor = self.base(
            "doctor",
            cal,
            "Doctor appointment",
            self.at(3, 16, 0),
            self.at(3, 17, 0),
        );
        doctor.sensitivity = "private".into();
        doctor.location = "Praxis Dr. Hoffmann".into();
        doctor.body_html = "<html><body><p>Bring insurance card.</p></body></html>".into();
        doctor.reminder_minutes = 60;
        out.push(doctor);

        // Friday: out of office in the afternoon.
        let mut oof = self.base(
            "oof",
            cal,
            "Out of office",
            self.at(4, 13, 0),
            self.at(4, 18, 0),
        );
        oof.show_as = "oof".into();
        oof.is_reminder_on = false;
        out.push(oof);

        let mut demo = self.base(
            "sprint-demo",
            cal,
            "Sprint demo",
            self.at(4, 10, 0),
            self.at(4, 11, 0),
        );
        self.invite(
            &mut demo,
            "Lena Fischer",
            "accepted",
            &["Tom Becker", "Priya Nair", "Jonas Weber"],
        );
        self.teams(&mut demo, "sprint-demo");
        out.push(demo);

        // Weekends: personal appointments every Saturday and Sunday around the week (shown
        // as free, so presence stays as it is), so that a demo started on a Friday,
        // Saturday or Sunday has something today and tomorrow too.
        for (key, subject, weekday, (h, m), hours, location) in [
            (
                "climbing",
                "Bouldering with Jonas",
                Weekday::Sat,
                (10, 0),
                2,
                "Bouldering gym",
            ),
            ("brunch", "Family brunch", Weekday::Sun, (11, 0), 2, ""),
        ] {
            let first = i64::from(weekday.num_days_from_monday()) - 7;
            let mut r = self.base(
                key,
                cal,
                subject,
                self.at(first, h, m),
                self.at(first, h + hours, m),
            );
            r.sensitivity = "personal".into();
            r.show_as = "free".into();
            r.location = location.into();
            r.reminder_minutes = 60;
            r.recurrence = Some(Recurrence {
                pattern: PatternType::Weekly,
                interval: 1,
                days_of_week: vec![weekday],
                first_day_of_week: Weekday::Mon,
                day_of_month: 0,
                range: RangeType::EndDate,
                start_date: self.monday + Duration::days(first),
                end_date: Some(self.monday + Duration::days(first + 14)),
                number_of_occurrences: 0,
                recurrence_time_zone: tz::windows_name(self.tz),
            });
            out.push(r);
        }

        // Previous week, lightly.
        let mut qbr = self.base(
            "qbr",
            cal,
            "Quarterly business review",
            self.at(-4, 14, 0),
            self.at(-4, 15, 30),
        );
        self.invite(&mut qbr, "Nestor Wilke", "accepted", &["Patti Fernandez"]);
        self.teams(&mut qbr, "qbr");
        out.push(qbr);

        let mut retro = self.base(
            "retro",
            cal,
            "Sprint retrospective",
            self.at(-3, 15, 0),
            self.at(-3, 16, 0),
        );
        self.invite(&mut retro, "Lena Fischer", "accepted", &["Tom Becker"]);
        self.teams(&mut retro, "retro");
        out.push(retro);

        // Next week, lightly.
        let mut design = self.base(
            "design-review",
            cal,
            "Design review: agenda view",
            self.at(8, 10, 0),
            self.at(8, 11, 0),
        );
        self.teams(&mut design, "design-review");
        design.attendees = vec![
            attendee("Priya Nair", "accepted"),
            attendee("Grady Archie", "none"),
        ];
        out.push(design);

        let mut offsite = self.base(
            "offsite-planning",
            cal,
            "Team offsite planning",
            self.at(9, 14, 0),
            self.at(9, 15, 0),
        );
        self.invite(&mut offsite, "Lena Fischer", "tentativelyAccepted", &[]);
        offsite.show_as = "tentative".into();
        out.push(offsite);

        let mut interview = self.base(
            "interview",
            cal,
            "Interview: Senior Rust engineer",
            self.at(10, 11, 0),
            self.at(10, 12, 0),
        );
        self.invite(&mut interview, "Isaiah Langer", "accepted", &["Tom Becker"]);
        self.teams(&mut interview, "interview");
        out.push(interview);

        // Across the next DST change of the mailbox zone (none for zones without DST).
        let from = tz::local_to_utc(self.tz, self.at(0, 0, 0));
        if let Some(t) = tz::next_transition(self.tz, from) {
            let local_day = t.with_timezone(&self.tz).date_naive();
            let day = (local_day - self.monday).num_days();
            let mut release = self.base(
                "dst-release",
                cal,
                "Release night: production database migration",
                self.at(day - 1, 22, 0),
                self.at(day, 6, 0),
            );
            self.teams(&mut release, "dst-release");
            release.attendees = vec![
                attendee("Tom Becker", "accepted"),
                attendee("Jonas Weber", "accepted"),
            ];
            release.categories = vec!["Project".into()];
            out.push(release);
        }

        // Second calendar: team holidays.
        let hol = HOLIDAYS_CALENDAR_ID;
        let mut anna = self.base(
            "hol-anna",
            hol,
            "Anna – vacation",
            self.at(2, 0, 0),
            self.at(5, 0, 0),
        );
        anna.is_all_day = true;
        anna.show_as = "free".into();
        anna.is_reminder_on = false;
        out.push(anna);
        let mut tom = self.base(
            "hol-tom",
            hol,
            "Tom – parental leave",
            self.at(7, 0, 0),
            self.at(12, 0, 0),
        );
        tom.is_all_day = true;
        tom.show_as = "free".into();
        tom.is_reminder_on = false;
        out.push(tom);
        let mut priya = self.base(
            "hol-priya",
            hol,
            "Priya – half day off",
            self.at(-3, 13, 0),
            self.at(-3, 18, 0),
        );
        priya.show_as = "free".into();
        priya.is_reminder_on = false;
        out.push(priya);

        for r in &mut out {
            if r.body_html.is_empty() {
                r.body_html = format!("<html><body><p>{}</p></body></html>", r.subject);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONES: [Tz; 7] = [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::America::Los_Angeles,
        chrono_tz::Asia::Tokyo,
        chrono_tz::Australia::Sydney,
        chrono_tz::Asia::Kolkata,
        chrono_tz::UTC,
    ];

    fn mailbox(today: NaiveDate, tz: Tz) -> Mailbox {
        build(&EmulatorConfig {
            today,
            mailbox_tz: tz,
            seed: Seed::Demo,
            ..EmulatorConfig::default()
        })
    }

    /// The timed, not cancelled instances of every calendar starting on `day` (local).
    fn timed_on(mb: &Mailbox, day: NaiveDate) -> Vec<String> {
        let from = tz::local_to_utc(mb.tz, day.and_time(NaiveTime::MIN));
        let to = tz::local_to_utc(mb.tz, (day + Duration::days(1)).and_time(NaiveTime::MIN));
        mb.calendars
            .iter()
            .flat_map(|c| mb.view_at(&c.id, mb.seq(), from, to))
            .filter(|i| !i.record.is_all_day && !i.record.is_cancelled)
            .filter(|i| i.start.with_timezone(&mb.tz).date_naive() == day)
            .map(|i| i.subject().to_owned())
            .collect()
    }

    #[test]
    fn every_weekday_has_appointments_today_and_tomorrow() {
        // A week in winter and the week of Europe's spring DST change (Sun 2026-03-29).
        for monday in ["2026-11-23", "2026-03-23"] {
            let monday: NaiveDate = monday.parse().unwrap();
            for offset in 0..7 {
                let today = monday + Duration::days(offset);
                for tz in ZONES {
                    let mb = mailbox(today, tz);
                    for day in [today, today + Duration::days(1)] {
                        assert!(
                            !timed_on(&mb, day).is_empty(),
                            "today {today} ({}), nothing on {day} ({})",
                            today.weekday(),
                            tz.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_weekend_demo_shows_the_work_week_ahead() {
        let saturday: NaiveDate = "2026-11-28".parse().unwrap();
        let next_monday: NaiveDate = "2026-11-30".parse().unwrap();
        assert_eq!(week_monday(saturday), next_monday);
        assert_eq!(week_monday(saturday + Duration::days(1)), next_monday);
        assert_eq!(week_monday(next_monday + Duration::days(4)), next_monday);
        let mb = mailbox(saturday, chrono_tz::Europe::Berlin);
        assert!(timed_on(&mb, next_monday).contains(&"Sprint planning".to_owned()));
    }

    #[test]
    fn meetings_fall_in_waking_hours_wherever_the_mailbox_is() {
        for tz in ZONES {
            for today in ["2026-11-24", "2026-03-27", "2026-07-01"] {
                let today: NaiveDate = today.parse().unwrap();
                let mb = mailbox(today, tz);
                let monday = week_monday(today);
                for d in -7..14 {
                    let day = monday + Duration::days(d);
                    let from = tz::local_to_utc(tz, day.and_time(NaiveTime::MIN));
                    let to = from + Duration::days(1);
                    for i in mb.view_at(PRIMARY_CALENDAR_ID, mb.seq(), from, to) {
                        if i.record.is_all_day || i.start < from {
                            continue;
                        }
                        let local = i.start.with_timezone(&tz).time();
                        assert!(
                            (7..=22).contains(&local.hour()),
                            "{} at {local} in {} (today {today})",
                            i.subject(),
                            tz.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_seattle_call_keeps_its_pacific_morning_for_a_berlin_mailbox() {
        let mb = mailbox("2026-11-24".parse().unwrap(), chrono_tz::Europe::Berlin);
        let tuesday: NaiveDate = "2026-11-24".parse().unwrap();
        let from = tz::local_to_utc(mb.tz, tuesday.and_time(NaiveTime::MIN));
        let seattle = mb
            .view_at(
                PRIMARY_CALENDAR_ID,
                mb.seq(),
                from,
                from + Duration::days(1),
            )
            .into_iter()
            .find(|i| i.subject() == "Sync with Seattle platform team")
            .unwrap();
        assert_eq!(seattle.record.tz, chrono_tz::America::Los_Angeles);
        assert_eq!(seattle.record.start, tuesday.and_hms_opt(8, 0, 0).unwrap());
        // From Tokyo, 08:00 in Seattle is 01:00: the call moves to 17:00 there.
        let mb = mailbox(tuesday, chrono_tz::Asia::Tokyo);
        let from = tz::local_to_utc(mb.tz, tuesday.and_time(NaiveTime::MIN));
        let seattle = mb
            .view_at(
                PRIMARY_CALENDAR_ID,
                mb.seq(),
                from,
                from + Duration::days(1),
            )
            .into_iter()
            .find(|i| i.subject() == "Sync with Seattle platform team")
            .unwrap();
        assert_eq!(seattle.record.tz, chrono_tz::America::Los_Angeles);
        assert_eq!(
            seattle.start.with_timezone(&mb.tz).time(),
            NaiveTime::from_hms_opt(17, 0, 0).unwrap()
        );
    }
}
