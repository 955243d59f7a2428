//! The fakes refuse what Microsoft's pages do not allow and page as documented: checked
//! here over real HTTP, so a scenario's "Graph refused nothing" means something.

use crate::fixtures::{self, PRIMARY_CALENDAR_ID};
use crate::{Graph, Identity, Mailbox};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::io::{Read, Write};

/// One HTTP/1.1 request over a plain socket; the status and the body.
fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct Fakes {
    graph: Graph,
    token: String,
    _identity: Identity,
}

impl Fakes {
    fn new(mailbox: Mailbox) -> Fakes {
        let identity = Identity::start();
        let token = identity.issue_access_token();
        let graph = Graph::start(&identity, mailbox);
        Fakes {
            graph,
            token,
            _identity: identity,
        }
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> (u16, String) {
        let auth = format!("Bearer {}", self.token);
        http(
            &self.graph.url(),
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("Prefer", "odata.maxpagesize=2"),
            ],
            &body.to_string(),
        )
    }
}

#[test]
fn presence_bodies_are_checked_as_their_pages_specify() {
    let f = Fakes::new(Mailbox::with_primary_marked());
    let set = "/v1.0/me/presence/setPresence";
    let ok = json!({"sessionId": crate::identity::CLIENT_ID, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT1H"});
    assert_eq!(f.call("POST", set, &ok).0, 200);
    // DoNotDisturb is not a session presence; an expiry over PT4H is refused.
    for bad in [
        json!({"sessionId": crate::identity::CLIENT_ID, "availability": "DoNotDisturb", "activity": "DoNotDisturb"}),
        json!({"sessionId": crate::identity::CLIENT_ID, "availability": "Busy", "activity": "InACall", "expirationDuration": "PT5H"}),
        json!({"sessionId": "someone-else", "availability": "Busy", "activity": "InACall"}),
    ] {
        assert_eq!(f.call("POST", set, &bad).0, 400, "{bad}");
    }
    let preferred = "/v1.0/me/presence/setUserPreferredPresence";
    assert_eq!(f.call("POST", preferred, &json!({"availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT8H"})).0, 200);
    assert_eq!(
        f.call(
            "POST",
            preferred,
            &json!({"availability": "Busy", "activity": "InACall"})
        )
        .0,
        400
    );
    let (_, body) = f.call("GET", "/v1.0/me/presence", &json!({}));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["availability"],
        "DoNotDisturb"
    );
    assert_eq!(
        f.call(
            "POST",
            "/v1.0/me/presence/clearUserPreferredPresence",
            &json!({"x": 1})
        )
        .0,
        400
    );
    assert_eq!(
        f.call(
            "POST",
            "/v1.0/me/presence/clearUserPreferredPresence",
            &json!({})
        )
        .0,
        200
    );
    let message = "/v1.0/me/presence/setStatusMessage";
    assert_eq!(f.call("POST", message, &json!({"statusMessage": {"message": {"content": "Hi", "contentType": "text"}, "expiryDateTime": {"dateTime": "2026-12-24T10:00:00.0000000", "timeZone": "UTC"}}})).0, 200);
    assert_eq!(
        f.call(
            "POST",
            message,
            &json!({"statusMessage": {"message": "Hi"}})
        )
        .0,
        400
    );
    assert_eq!(f.graph.refusals().len(), 6, "{}", f.graph.journal().dump());
}

#[test]
fn mailbox_settings_take_documented_values_without_case_and_served_ones_verbatim() {
    let f = Fakes::new(Mailbox::with_primary_marked());
    let path = "/v1.0/me/mailboxSettings";
    assert_eq!(
        f.call(
            "PATCH",
            path,
            &json!({"automaticRepliesSetting": {"status": "sometimes"}})
        )
        .0,
        400
    );
    assert_eq!(
        f.call(
            "PATCH",
            path,
            &json!({"automaticRepliesSetting": {"status": "disabled", "colour": "red"}})
        )
        .0,
        400
    );
    assert_eq!(f.call("PATCH", path, &json!({"automaticRepliesSetting": {"scheduledStartDateTime": {"dateTime": "tomorrow", "timeZone": "UTC"}}})).0, 400);
    assert_eq!(
        f.call(
            "PATCH",
            path,
            &json!({"automaticRepliesSetting": {"status": "alwaysEnabled"}})
        )
        .0,
        200
    );
    // "Scheduled" is what the fake served (user-get-mailboxsettings.md).
    assert_eq!(
        f.call(
            "PATCH",
            path,
            &json!({"automaticRepliesSetting": {"status": "Scheduled", "externalAudience": "All"}})
        )
        .0,
        200
    );
    assert_eq!(f.graph.mailbox().automatic_replies()["status"], "Scheduled");
}

#[test]
fn a_delta_round_pages_links_and_reports_removals() {
    let mut mailbox = Mailbox::with_primary_marked();
    let now = Utc::now();
    for i in 0..5 {
        let start = now + Duration::hours(i + 1);
        mailbox.put_event(
            PRIMARY_CALENDAR_ID,
            fixtures::event(&format!("e{i}"), "x", start, start + Duration::minutes(30)),
        );
    }
    mailbox.put_event(
        PRIMARY_CALENDAR_ID,
        fixtures::event(
            "far",
            "outside",
            now + Duration::days(400),
            now + Duration::days(400) + Duration::hours(1),
        ),
    );
    let f = Fakes::new(mailbox);
    let window = format!(
        "/v1.0/me/calendarView/delta?startDateTime={}&endDateTime={}",
        (now - Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut path = window;
    let mut ids = Vec::new();
    let delta = loop {
        let (status, body) = f.call("GET", &path, &json!({}));
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        assert!(
            page["value"].as_array().unwrap().len() <= 2,
            "maxpagesize honoured by default"
        );
        ids.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        let link = |k: &str| page[k].as_str().map(|l| l.replacen(&f.graph.url(), "", 1));
        match (link("@odata.nextLink"), link("@odata.deltaLink")) {
            (Some(next), _) => path = next,
            (None, Some(delta)) => break delta,
            _ => panic!("a page with neither link: {page}"),
        }
    };
    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
    f.graph.mailbox().remove_event(PRIMARY_CALENDAR_ID, "e2");
    let (_, body) = f.call("GET", &delta, &json!({}));
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        page["value"],
        json!([{"@odata.type": "#microsoft.graph.event", "id": "e2", "@removed": {"reason": "deleted"}}])
    );
    assert!(page["@odata.deltaLink"].is_string());
    // A first request without its window is refused; without a token, 401.
    assert_eq!(
        f.call("GET", "/v1.0/me/calendarView/delta", &json!({})).0,
        400
    );
    assert_eq!(http(&f.graph.url(), "GET", "/v1.0/me", &[], "").0, 401);
}
