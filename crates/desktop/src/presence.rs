//! Presence automation on the desktop surfaces: what keeps failing, as the app's status
//! line and the tray show it, and when a restore that keeps failing is worth a desktop
//! notification (after [`ALERT_AFTER`] failures, once per restore, not at every retry).
//! The loop ([`follow`]) wakes only when the engine's presence status changes.

use presently_engine::config::Lang;
use presently_engine::i18n::{self, Text};
use presently_engine::presence::journal::{Purpose, Resource};
use presently_engine::presence::runtime::PresenceStatus;
use presently_engine::Engine;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::Notify;

/// A restore is worth a notification once it failed this many times in a row (2 s, 4 s
/// and 8 s apart: some 14 s of trying).
pub const ALERT_AFTER: u32 = 3;

/// Something presence automation keeps failing at, for the app's status line (worded there
/// in the user's language) and the tray (worded here, in English, as the CLI says it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PresenceProblem {
    pub resource: Resource,
    /// What the write that fails (or waits for a failing read) is for; None while a read
    /// before taking the resource fails.
    pub purpose: Option<Purpose>,
    /// A read fails (the write waits for it), not the write itself.
    pub read: bool,
    /// The write switches forwarding off ("still on").
    pub switches_off: bool,
    /// Failures in a row.
    pub failures: u32,
    pub error: Option<String>,
    /// The engine's words: "Forwarding still on — switching it off failed, retrying".
    pub message: String,
    /// The write's idempotency key: the same problem however often it is retried.
    pub key: Option<String>,
}

impl PresenceProblem {
    fn is_restore(&self) -> bool {
        self.purpose == Some(Purpose::Restore)
    }
}

/// What keeps failing now, restores first.
pub fn problems(status: &PresenceStatus) -> Vec<PresenceProblem> {
    let mut out: Vec<PresenceProblem> = status
        .resources
        .iter()
        .filter_map(|r| {
            let message = r.problem.clone()?;
            let failing = r.failing.clone()?;
            Some(PresenceProblem {
                resource: r.resource,
                purpose: r.pending.as_ref().map(|p| p.purpose),
                read: failing.read,
                switches_off: r.pending.as_ref().is_some_and(|p| p.switches_off),
                failures: failing.failures,
                error: failing.error,
                message,
                key: r.pending.as_ref().map(|p| p.key.clone()),
            })
        })
        .collect();
    out.sort_by_key(|p| !p.is_restore());
    out
}

/// A desktop notification about a restore that keeps failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreAlert {
    /// The restore's key (remembered, so it is told once).
    pub key: String,
    pub summary: String,
    pub body: String,
}

/// Which problems deserve a notification now: a restore that failed [`ALERT_AFTER`] times
/// or more (its write, or the read it waits for), unless `alerted` holds its key already.
/// Worded in `lang` around the engine's message (which is English, as the CLI says it).
pub fn alerts_due(
    problems: &[PresenceProblem],
    alerted: &BTreeSet<String>,
    lang: Lang,
) -> Vec<RestoreAlert> {
    problems
        .iter()
        .filter(|p| p.is_restore() && p.failures >= ALERT_AFTER)
        .filter_map(|p| {
            let key = p.key.clone()?;
            if alerted.contains(&key) {
                return None;
            }
            let error = p
                .error
                .as_deref()
                .filter(|e| !p.message.contains(e))
                .map(|error| Text::LastError.fill(lang, &[("error", error)]))
                .unwrap_or_default();
            let body = Text::RestoreTries.fill(
                lang,
                &[
                    ("message", &p.message),
                    ("tries", &p.failures.to_string()),
                    ("error", &error),
                ],
            );
            Some(RestoreAlert {
                key,
                summary: Text::NotGivenBack
                    .fill(lang, &[("resource", i18n::resource(lang, p.resource))]),
                body,
            })
        })
        .collect()
}

/// "Meeting over? Restore your status now": the notification offering to give the user's
/// own state back now, because they left the meeting's call before the appointment's end
/// (`presence.restore_when_call_ends = "ask"`). Its action restores ([`restore_now`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreOffer {
    /// Remembered with the alerted restores' keys, so it is offered once.
    pub key: String,
    /// The appointment (occurrence) to restore for.
    pub appointment_id: String,
    pub summary: String,
    pub body: String,
    /// The action's label.
    pub action: String,
}

/// The offer to notify now, if the runtime has one that `alerted` does not hold yet.
pub fn offer_due(
    status: &PresenceStatus,
    alerted: &BTreeSet<String>,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> Option<RestoreOffer> {
    let ended = status.ended_early.as_ref()?;
    let key = offer_key(&ended.appointment_id);
    if alerted.contains(&key) {
        return None;
    }
    let subject = ended
        .subject
        .as_deref()
        .unwrap_or(Text::PrivateAppointment.get(lang));
    let end = ended.end.with_timezone(&tz).format("%H:%M").to_string();
    Some(RestoreOffer {
        key,
        appointment_id: ended.appointment_id.clone(),
        summary: Text::MeetingOver.get(lang).to_owned(),
        body: Text::MeetingOverBody.fill(lang, &[("subject", subject), ("end", &end)]),
        action: Text::RestoreNow.get(lang).to_owned(),
    })
}

fn offer_key(appointment_id: &str) -> String {
    format!("call-ended:{appointment_id}")
}

/// "Restore now": automation gives the user's own state back for the appointment now, as
/// its end would, and switches no more for it (see
/// [`Engine::presence_restore_call_ended`]). Whether it changed anything.
pub fn restore_now(engine: &Engine, appointment_id: &str) -> bool {
    match engine.presence_restore_call_ended(appointment_id) {
        Ok(outcome) => {
            tracing::info!(appointment = %appointment_id, changed = outcome.changed, "restore now, as the user asked");
            outcome.changed
        }
        Err(e) => {
            tracing::warn!(error = %e, appointment = %appointment_id, "cannot restore now");
            false
        }
    }
}

/// The alerted keys still worth remembering: those of writes still open (a key is never
/// reused, so one that landed or was dropped can be forgotten), and the offer still on.
pub fn still_open(alerted: &BTreeSet<String>, status: &PresenceStatus) -> BTreeSet<String> {
    let offer = status
        .ended_early
        .as_ref()
        .map(|e| offer_key(&e.appointment_id));
    let open: BTreeSet<&str> = status
        .resources
        .iter()
        .filter_map(|r| r.pending.as_ref().map(|p| p.key.as_str()))
        .chain(offer.as_deref())
        .collect();
    alerted
        .iter()
        .filter(|k| open.contains(k.as_str()))
        .cloned()
        .collect()
}

/// Follows presence automation's status until `stop`: at each change `changed` runs (the
/// shell redraws its tray and status line), each restore that now deserves it goes to
/// `show` as a notification, and a meeting whose call ended early goes to `offer` (once).
/// What was notified is kept in the store, so neither a restart nor a hand-over between the
/// window app and the tray host tells it twice.
pub async fn follow<C, F, O, Shown, Offered>(
    engine: Arc<Engine>,
    stop: &Notify,
    mut changed: C,
    mut show: F,
    mut offer: O,
) where
    C: FnMut(),
    F: FnMut(RestoreAlert) -> Shown,
    Shown: std::future::Future<Output = ()>,
    O: FnMut(RestoreOffer) -> Offered,
    Offered: std::future::Future<Output = ()>,
{
    let mut changes = engine.presence_changes();
    let mut stored = engine.presence_alerted().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read which restores were notified");
        BTreeSet::new()
    });
    let mut alerted = stored.clone();
    loop {
        tokio::select! {
            result = changes.changed() => if result.is_err() { return },
            _ = stop.notified() => return,
        }
        changed();
        let status = match engine.presence_status() {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the presence status");
                continue;
            }
        };
        let lang = engine.config().app.language.resolve();
        for alert in alerts_due(&problems(&status), &alerted, lang) {
            tracing::warn!(key = %alert.key, summary = %alert.summary, "a restore keeps failing; telling the user");
            alerted.insert(alert.key.clone());
            show(alert).await;
        }
        let tz = engine.config().display_timezone();
        if let Some(due) = offer_due(&status, &alerted, lang, tz) {
            tracing::info!(appointment = %due.appointment_id, "the meeting's call ended early; offering to restore now");
            alerted.insert(due.key.clone());
            offer(due).await;
        }
        alerted = still_open(&alerted, &status);
        if alerted != stored {
            match engine.set_presence_alerted(&alerted) {
                Ok(()) => stored = alerted.clone(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot remember which restores were notified")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presently_engine::presence::driver::{Failing, PendingWrite, ResourceStatus};

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().expect("time")
    }

    /// The status with forwarding's restore `key` failed `attempts` times (by its write,
    /// or, with `read`, by the read it waits for).
    fn status(key: &str, attempts: u32, read: bool) -> PresenceStatus {
        let pending = PendingWrite {
            key: key.into(),
            resource: Resource::Forwarding,
            purpose: Purpose::Restore,
            action: "forwarding back off".into(),
            since: at("2026-11-24T11:00:00Z"),
            attempts: if read { 0 } else { attempts },
            error: (!read).then(|| "HTTP forwarding refused the change (HTTP 500)".into()),
            next_attempt: None,
            message: (!read && attempts > 0)
                .then(|| "Forwarding still on — switching it off failed, retrying".into()),
            switches_off: true,
        };
        let failing = (attempts > 0).then(|| Failing {
            read,
            failures: attempts,
            error: Some(if read {
                "cannot reach Webex Calling".into()
            } else {
                "HTTP forwarding refused the change (HTTP 500)".into()
            }),
        });
        let problem = failing.as_ref().map(|_| {
            if read {
                "Forwarding: reading it failed, retrying: cannot reach Webex Calling".to_owned()
            } else {
                "Forwarding still on — switching it off failed, retrying".to_owned()
            }
        });
        PresenceStatus {
            running: true,
            resources: vec![
                ResourceStatus {
                    resource: Resource::Presence,
                    held: "yours",
                    pending: None,
                    problem: None,
                    failing: None,
                },
                ResourceStatus {
                    resource: Resource::Forwarding,
                    held: "automated",
                    pending: Some(pending),
                    problem,
                    failing,
                },
            ],
            ..PresenceStatus::default()
        }
    }

    #[test]
    fn a_restore_is_notified_at_its_third_failure_once() {
        let mut alerted = BTreeSet::new();
        for attempts in 0..ALERT_AFTER {
            let due = alerts_due(
                &problems(&status("j-7", attempts, false)),
                &alerted,
                Lang::En,
            );
            assert!(due.is_empty(), "after {attempts} failures: {due:?}");
        }
        let due = alerts_due(&problems(&status("j-7", 3, false)), &alerted, Lang::En);
        assert_eq!(
            due,
            vec![RestoreAlert {
                key: "j-7".into(),
                summary: "Forwarding not given back yet".into(),
                body: "Forwarding still on — switching it off failed, retrying (3 tries so far; last error: HTTP forwarding refused the change (HTTP 500)). Presently keeps trying until it lands.".into(),
            }]
        );
        alerted.insert("j-7".to_owned());
        for attempts in 4..12 {
            assert!(
                alerts_due(
                    &problems(&status("j-7", attempts, false)),
                    &alerted,
                    Lang::En
                )
                .is_empty(),
                "not at every retry ({attempts})"
            );
        }
        // Another restore that fails is another problem.
        assert_eq!(
            alerts_due(&problems(&status("j-9", 3, false)), &alerted, Lang::En).len(),
            1
        );
    }

    #[test]
    fn a_restore_alert_speaks_german_when_the_app_does() {
        let due = alerts_due(
            &problems(&status("j-7", 3, false)),
            &BTreeSet::new(),
            Lang::De,
        );
        assert_eq!(due[0].summary, "Rufumleitung noch nicht zurückgegeben");
        assert_eq!(
            due[0].body,
            "Forwarding still on — switching it off failed, retrying (bisher 3 Versuche; letzter Fehler: HTTP forwarding refused the change (HTTP 500)). Presently versucht es weiter, bis es gelingt."
        );
    }

    #[test]
    fn a_restore_held_up_by_a_failing_read_is_notified_too() {
        let due = alerts_due(
            &problems(&status("j-7", 3, true)),
            &BTreeSet::new(),
            Lang::En,
        );
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(
            due[0].body,
            "Forwarding: reading it failed, retrying: cannot reach Webex Calling (3 tries so far). Presently keeps trying until it lands."
        );
    }

    #[test]
    fn a_failing_apply_is_shown_but_not_notified() {
        let mut s = status("j-7", 5, false);
        if let Some(p) = s.resources[1].pending.as_mut() {
            p.purpose = Purpose::Apply;
        }
        let found = problems(&s);
        assert_eq!(found.len(), 1);
        assert!(alerts_due(&found, &BTreeSet::new(), Lang::En).is_empty());
    }

    #[test]
    fn a_meeting_whose_call_ended_early_is_offered_once_in_the_users_language() {
        use presently_engine::presence::call_watch::EndedEarly;
        let mut s = PresenceStatus::default();
        let tz = chrono_tz::Europe::Berlin;
        assert_eq!(offer_due(&s, &BTreeSet::new(), Lang::En, tz), None);
        s.ended_early = Some(EndedEarly {
            appointment_id: "m1".into(),
            subject: Some("Design review".into()),
            end: at("2026-11-24T11:00:00Z"),
            left_at: at("2026-11-24T10:20:00Z"),
            at: at("2026-11-24T10:22:00Z"),
        });
        let offer = offer_due(&s, &BTreeSet::new(), Lang::En, tz).unwrap();
        assert_eq!(offer.appointment_id, "m1");
        assert_eq!(offer.summary, "Meeting over? Restore your status now");
        assert_eq!(
            offer.body,
            "You left the call of Design review 2 minutes ago; Presently keeps your meeting status until 12:00."
        );
        assert_eq!(offer.action, "Restore now");
        let de = offer_due(&s, &BTreeSet::new(), Lang::De, tz).unwrap();
        assert_eq!(de.summary, "Besprechung vorbei? Status jetzt zurücksetzen");
        assert_eq!(de.action, "Jetzt zurücksetzen");
        // Offered: remembered while on offer, not offered again; forgotten once gone.
        let alerted: BTreeSet<String> = [offer.key.clone()].into();
        assert_eq!(offer_due(&s, &alerted, Lang::En, tz), None);
        assert_eq!(still_open(&alerted, &s), alerted);
        assert!(still_open(&alerted, &PresenceStatus::default()).is_empty());
        // A private appointment is not named.
        s.ended_early.as_mut().unwrap().subject = None;
        assert!(offer_due(&s, &BTreeSet::new(), Lang::En, tz)
            .unwrap()
            .body
            .contains("the call of Private appointment"));
    }

    #[test]
    fn only_the_keys_of_writes_still_open_are_remembered() {
        let alerted: BTreeSet<String> = ["j-7".to_owned(), "j-3".to_owned()].into();
        assert_eq!(
            still_open(&alerted, &status("j-7", 4, false)),
            ["j-7".to_owned()].into()
        );
        assert!(still_open(&alerted, &PresenceStatus::default()).is_empty());
    }

    #[test]
    fn problems_carry_what_the_app_words_itself_restores_first() {
        let mut s = status("j-7", 2, false);
        s.resources[0] = ResourceStatus {
            resource: Resource::Presence,
            held: "automated",
            pending: None,
            problem: Some("Presence: reading it failed, retrying: HTTP 503".into()),
            failing: Some(Failing {
                read: true,
                failures: 1,
                error: Some("HTTP 503".into()),
            }),
        };
        let found = problems(&s);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].resource, Resource::Forwarding);
        assert_eq!(found[0].purpose, Some(Purpose::Restore));
        assert!(found[0].switches_off);
        assert_eq!(found[0].failures, 2);
        assert_eq!(found[1].purpose, None);
        assert!(found[1].read);
        let json = serde_json::to_value(&found[0]).expect("json");
        assert_eq!(json["resource"], "forwarding");
        assert_eq!(json["purpose"], "restore");
    }
}
