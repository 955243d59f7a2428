//! Presence automation endpoints over real HTTP and TCP on loopback: Teams presence and its
//! precedence, status messages, mailbox settings, the Webex and AMI forwarding fakes, the
//! HTTP sink, and the record of every call.
#![allow(clippy::unwrap_used)] // tests may unwrap (helpers outside #[test] fns too)
#![allow(clippy::disallowed_methods)] // tests drive real processes and servers on the wall clock

mod common;

use std::time::Duration;

use common::*;
use presently_emulator::{Emulator, DEFAULT_AMI_SECRET, DEFAULT_AMI_USERNAME, DEMO_CLIENT_ID};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Graph {
    c: reqwest::Client,
    base: String,
    token: String,
}

impl Graph {
    fn new(emu: &Emulator) -> Graph {
        Graph {
            c: client(),
            base: format!("{}/v1.0", emu.base_url()),
            token: emu.control().issue_access_token_for_tests(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self
            .c
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, v)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (status, _, body) =
            graph_get(&self.c, &format!("{}{path}", self.base), &self.token, &[]).await;
        (status, body)
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .c
            .patch(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn presence(&self) -> (String, String) {
        let (status, body) = self.get("/me/presence").await;
        assert_eq!(status, 200, "{body}");
        (
            body["availability"].as_str().unwrap().to_string(),
            body["activity"].as_str().unwrap().to_string(),
        )
    }

    async fn set_presence(&self, availability: &str, activity: &str, expiration: &str) -> u16 {
        self.post(
            "/me/presence/setPresence",
            json!({
                "sessionId": DEMO_CLIENT_ID,
                "availability": availability,
                "activity": activity,
                "expirationDuration": expiration,
            }),
        )
        .await
        .0
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[tokio::test]
async fn presence_needs_a_valid_token() {
    let emu = start().await;
    let c = client();
    let url = format!("{}/v1.0/me/presence", emu.base_url());
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = c
        .post(format!("{url}/setPresence"))
        .bearer_auth("garbage")
        .json(&json!({"sessionId": DEMO_CLIENT_ID, "availability": "Busy", "activity": "InACall"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(
        emu.control().presence()["availability"],
        "Available",
        "a refused call changes nothing"
    );
}

#[tokio::test]
async fn precedence_preferred_over_sessions_and_dnd_busy_available_away() {
    let emu = start().await;
    let ctl = emu.control();
    let g = Graph::new(&emu);

    // The user's own Teams client is a session: Available by default.
    assert_eq!(g.presence().await, pair("Available", "Available"));
    let (_, body) = g.get("/me/presence").await;
    assert_eq!(body["id"], ctl.presence()["id"]);
    assert!(body["statusMessage"].is_null());

    // Among sessions: Available (Teams client) > Away (app).
    assert_eq!(g.set_presence("Away", "Away", "PT1H").await, 200);
    assert_eq!(g.presence().await, pair("Available", "Available"));
    // Busy (app) > Available (client).
    assert_eq!(g.set_presence("Busy", "InACall", "PT1H").await, 200);
    assert_eq!(g.presence().await, pair("Busy", "InACall"));
    // DoNotDisturb (client) > Busy (app).
    ctl.set_teams_client_presence(Some(("DoNotDisturb", "DoNotDisturb")));
    assert_eq!(g.presence().await, pair("DoNotDisturb", "DoNotDisturb"));
    // Away (client) < Busy (app).
    ctl.set_teams_client_presence(Some(("Away", "Away")));
    assert_eq!(
        g.presence().await,
        pair("Busy", "InAConferenceCall")
            .0
            .eq("Busy")
            .then(|| pair("Busy", "InACall"))
            .unwrap()
    );
    // DoNotDisturb/Presenting (app) > Away (client).
    assert_eq!(
        g.set_presence("DoNotDisturb", "Presenting", "PT1H").await,
        200
    );
    assert_eq!(g.presence().await, pair("DoNotDisturb", "Presenting"));
    // The app's Away alone, with the client signed out.
    assert_eq!(g.set_presence("Away", "Away", "PT1H").await, 200);
    ctl.set_teams_client_presence(None);
    assert_eq!(g.presence().await, pair("Away", "Away"));

    // A preferred presence wins over every session, even a higher one.
    ctl.set_teams_client_presence(Some(("Busy", "Busy")));
    let (status, _, _) = g
        .post(
            "/me/presence/setUserPreferredPresence",
            json!({"availability": "Available", "activity": "Available", "expirationDuration": "PT8H"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(g.presence().await, pair("Available", "Available"));
    assert_eq!(
        ctl.preferred_presence()["availability"],
        "Available",
        "{}",
        ctl.preferred_presence()
    );

    // ... but shows only while some session exists.
    ctl.set_teams_client_presence(None);
    let (status, _, _) = g
        .post(
            "/me/presence/clearPresence",
            json!({"sessionId": DEMO_CLIENT_ID}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(g.presence().await, pair("Offline", "Offline"));
    ctl.set_teams_client_presence(Some(("Available", "Available")));
    let (status, _, _) = g
        .post(
            "/me/presence/setUserPreferredPresence",
            json!({"availability": "Offline", "activity": "OffWork"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(g.presence().await, pair("Offline", "OffWork"));

    // The same resource under /users/{id}; another user is not found.
    let id = ctl.presence()["id"].as_str().unwrap().to_string();
    let (status, body) = g.get(&format!("/users/{id}/presence")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["availability"], "Offline");
    let (status, body) = g.get("/users/someone-else/presence").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn set_presence_validates_pairs_session_and_expiration() {
    let emu = start().await;
    let ctl = emu.control();
    let g = Graph::new(&emu);
    let check_400 = |(status, _h, body): (u16, reqwest::header::HeaderMap, Value)| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "BadRequest", "{body}");
        assert!(body["error"]["message"].as_str().is_some());
        assert!(body["error"]["innerError"]["request-id"].as_str().is_some());
    };
    for (a, b) in [
        ("Busy", "Busy"),
        ("Available", "InACall"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("Offline", "OffWork"),
        ("BeRightBack", "BeRightBack"),
        ("Busy", "InAMeeting"),
    ] {
        check_400(
            g.post(
                "/me/presence/setPresence",
                json!({"sessionId": DEMO_CLIENT_ID, "availability": a, "activity": b, "expirationDuration": "PT1H"}),
            )
            .await,
        );
    }
    for exp in ["PT4M", "PT4H1M", "P1D", "banana", ""] {
        check_400(
            g.post(
                "/me/presence/setPresence",
                json!({"sessionId": DEMO_CLIENT_ID, "availability": "Busy", "activity": "InACall", "expirationDuration": exp}),
            )
            .await,
        );
    }
    // The session id must be the caller's client id.
    check_400(
        g.post(
            "/me/presence/setPresence",
            json!({"sessionId": "not-the-app", "availability": "Busy", "activity": "InACall"}),
        )
        .await,
    );
    check_400(
        g.post(
            "/me/presence/setPresence",
            json!({"availability": "Busy", "activity": "InACall"}),
        )
        .await,
    );
    // Preferred presence takes activity = availability (or Offline/OffWork).
    check_400(
        g.post(
            "/me/presence/setUserPreferredPresence",
            json!({"availability": "Busy", "activity": "InACall"}),
        )
        .await,
    );
    check_400(
        g.post(
            "/me/presence/setStatusMessage",
            json!({"statusMessage": {"message": {"content": "x", "contentType": "html"}}}),
        )
        .await,
    );
    assert_eq!(ctl.presence()["availability"], "Available");
    assert_eq!(ctl.presence_sessions(), json!([]));

    // Bounds are inclusive; without expirationDuration the session lasts 5 minutes.
    assert_eq!(g.set_presence("Busy", "InACall", "PT5M").await, 200);
    assert_eq!(g.set_presence("Busy", "InACall", "PT4H").await, 200);
    let (status, _, _) = g
        .post(
            "/me/presence/setPresence",
            json!({"sessionId": DEMO_CLIENT_ID, "availability": "busy", "activity": "inacall"}),
        )
        .await;
    assert_eq!(status, 200);
    let sessions = ctl.presence_sessions();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "one session per app");
    assert_eq!(sessions[0]["availability"], "Busy");
    assert_eq!(sessions[0]["activity"], "InACall");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(sessions[0]["expirationDateTime"].clone()).unwrap();
    let left = expires - ctl.clock();
    assert!(
        left > chrono::Duration::minutes(4) && left <= chrono::Duration::minutes(5),
        "{left}"
    );
}

#[tokio::test]
async fn expirations_run_on_the_emulator_clock() {
    let emu = start().await;
    let ctl = emu.control();
    let g = Graph::new(&emu);
    assert_eq!(
        g.set_presence("Busy", "InAConferenceCall", "PT5M").await,
        200
    );
    let (status, _, _) = g
        .post(
            "/me/presence/setUserPreferredPresence",
            json!({"availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT10M"}),
        )
        .await;
    assert_eq!(status, 200);
    let expiry = (ctl.clock() + chrono::Duration::minutes(15)).naive_utc();
    let (status, _, _) = g
        .post(
            "/me/presence/setStatusMessage",
            json!({"statusMessage": {
                "message": {"content": "In a meeting until 10:30", "contentType": "text"},
                "expiryDateTime": {"dateTime": expiry.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
            }}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = g.get("/me/presence").await;
    assert_eq!(body["availability"], "DoNotDisturb");
    assert_eq!(
        body["statusMessage"]["message"],
        json!({"content": "In a meeting until 10:30", "contentType": "text"})
    );
    assert_eq!(body["statusMessage"]["expiryDateTime"]["timeZone"], "UTC");
    assert!(body["statusMessage"]["publishedDateTime"]
        .as_str()
        .is_some());

    ctl.advance_clock(Duration::from_secs(6 * 60));
    assert_eq!(g.presence().await, pair("DoNotDisturb", "DoNotDisturb"));
    assert_eq!(ctl.presence_sessions(), json!([]), "the session expired");
    ctl.advance_clock(Duration::from_secs(5 * 60));
    assert_eq!(
        g.presence().await,
        pair("Available", "Available"),
        "the preferred presence expired"
    );
    assert!(!g.get("/me/presence").await.1["statusMessage"].is_null());
    ctl.advance_clock(Duration::from_secs(5 * 60));
    assert!(g.get("/me/presence").await.1["statusMessage"].is_null());
}

#[tokio::test]
async fn clearing_restores_and_a_manual_change_wins() {
    let emu = start().await;
    let ctl = emu.control();
    let g = Graph::new(&emu);
    assert_eq!(g.set_presence("Busy", "InACall", "PT1H").await, 200);
    assert_eq!(g.presence().await, pair("Busy", "InACall"));
    let (status, _, body) = g
        .post(
            "/me/presence/clearPresence",
            json!({"sessionId": DEMO_CLIENT_ID}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(g.presence().await, pair("Available", "Available"));

    let (status, _, _) = g
        .post(
            "/me/presence/setUserPreferredPresence",
            json!({"availability": "Busy", "activity": "Busy", "expirationDuration": "PT1H"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(g.presence().await, pair("Busy", "Busy"));
    // The user picks Do not disturb in Teams: it replaces the app's preferred presence.
    ctl.set_user_presence("DoNotDisturb", "DoNotDisturb");
    assert_eq!(g.presence().await, pair("DoNotDisturb", "DoNotDisturb"));
    assert!(ctl.preferred_presence()["expirationDateTime"].is_null());
    let (status, _, _) = g
        .post("/me/presence/clearUserPreferredPresence", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(g.presence().await, pair("Available", "Available"));
    ctl.set_user_presence("Away", "Away");
    ctl.reset_user_presence();
    assert_eq!(g.presence().await, pair("Available", "Available"));

    // A status message set, then cleared with empty content.
    let set = |content: &str| json!({"statusMessage": {"message": {"content": content, "contentType": "text"}}});
    assert_eq!(
        g.post("/me/presence/setStatusMessage", set("Focus time"))
            .await
            .0,
        200
    );
    let (_, body) = g.get("/me/presence").await;
    assert_eq!(body["statusMessage"]["message"]["content"], "Focus time");
    assert!(body["statusMessage"]["expiryDateTime"].is_null());
    assert_eq!(
        g.post("/me/presence/setStatusMessage", set("")).await.0,
        200
    );
    assert!(g.get("/me/presence").await.1["statusMessage"].is_null());
}

#[tokio::test]
async fn mailbox_settings_patch_and_get_round_trip() {
    let emu = start().await;
    let ctl = emu.control();
    let g = Graph::new(&emu);
    let (status, before) = g.get("/me/mailboxSettings").await;
    assert_eq!(status, 200, "{before}");
    let ar = &before["automaticRepliesSetting"];
    assert_eq!(ar["status"], "disabled");
    assert_eq!(ar["externalAudience"], "all");
    assert!(ar["scheduledStartDateTime"]["dateTime"].as_str().is_some());
    assert_eq!(before["timeZone"], "W. Europe Standard Time");
    assert!(before["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/mailboxSettings"));

    let (status, body) = g
        .patch(
            "/me/mailboxSettings",
            json!({"automaticRepliesSetting": {
                "status": "Scheduled",
                "externalAudience": "contactsOnly",
                "scheduledStartDateTime": {"dateTime": "2026-11-24T10:00:00", "timeZone": "W. Europe Standard Time"},
                "scheduledEndDateTime": {"dateTime": "2026-11-24T12:00:00", "timeZone": "Europe/Berlin"},
                "internalReplyMessage": "Out until noon",
                "externalReplyMessage": "Out of office",
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ar = &body["automaticRepliesSetting"];
    assert_eq!(ar["status"], "scheduled");
    assert_eq!(ar["externalAudience"], "contactsOnly");
    assert_eq!(
        ar["scheduledStartDateTime"],
        json!({"dateTime": "2026-11-24T09:00:00.0000000", "timeZone": "UTC"})
    );
    assert_eq!(
        ar["scheduledEndDateTime"]["dateTime"],
        "2026-11-24T11:00:00.0000000"
    );
    assert!(
        body.get("timeZone").is_none(),
        "only updated properties come back"
    );
    let (_, after) = g.get("/me/mailboxSettings").await;
    assert_eq!(
        after["automaticRepliesSetting"],
        body["automaticRepliesSetting"]
    );
    assert_eq!(after["timeZone"], before["timeZone"]);
    assert_eq!(ctl.mailbox_settings()["automaticRepliesSetting"], *ar);

    // A partial patch merges.
    let (status, body) = g
        .patch(
            "/users/megan.bowen@contoso.onmicrosoft.com/mailboxSettings",
            json!({"automaticRepliesSetting": {"status": "alwaysEnabled"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["automaticRepliesSetting"]["status"], "alwaysEnabled");
    assert_eq!(
        body["automaticRepliesSetting"]["internalReplyMessage"],
        "Out until noon"
    );
    let p = ctl.presence();
    assert_eq!(p["outOfOfficeSettings"]["isOutOfOffice"], true);
    assert_eq!(p["outOfOfficeSettings"]["message"], "Out until noon");

    // Refused: bad status, end before start, bad zone, unknown property.
    for bad in [
        json!({"automaticRepliesSetting": {"status": "sometimes"}}),
        json!({"automaticRepliesSetting": {"status": "scheduled",
            "scheduledStartDateTime": {"dateTime": "2026-11-25T10:00:00", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": "2026-11-25T09:00:00", "timeZone": "UTC"}}}),
        json!({"timeZone": "Mars/Olympus_Mons"}),
        json!({"colour": "blue"}),
    ] {
        let (status, body) = g.patch("/me/mailboxSettings", bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["error"]["code"].as_str().is_some());
    }
    assert_eq!(
        ctl.mailbox_settings()["automaticRepliesSetting"]["status"],
        "alwaysEnabled",
        "a refused patch changes nothing"
    );

    // Restored.
    let (status, _) = g
        .patch(
            "/me/mailboxSettings",
            json!({"automaticRepliesSetting": {"status": "disabled"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        ctl.presence()["outOfOfficeSettings"]["isOutOfOffice"],
        false
    );
}

#[tokio::test]
async fn webex_call_forwarding_get_and_put() {
    let emu = start().await;
    let ctl = emu.control();
    let c = client();
    let url = format!(
        "{}/people/Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM/features/callForwarding",
        emu.webex_base_url()
    );
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = c.get(&url).bearer_auth("made-up").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().is_some() && body["trackingId"].as_str().is_some());

    let token = ctl.webex_token();
    let resp = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let before: Value = resp.json().await.unwrap();
    assert_eq!(before["callForwarding"]["always"]["enabled"], false);
    assert_eq!(before["callForwarding"]["noAnswer"]["numberOfRings"], 3);
    assert_eq!(before["businessContinuity"]["enabled"], false);

    let resp = c
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"callForwarding": {"always": {
            "enabled": true, "destination": "+4930123456", "ringReminderEnabled": true,
            "destinationVoicemailEnabled": false}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let after: Value = c
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["callForwarding"]["always"],
        json!({"enabled": true, "destination": "+4930123456", "ringReminderEnabled": true, "destinationVoicemailEnabled": false})
    );
    assert_eq!(
        after["callForwarding"]["busy"],
        before["callForwarding"]["busy"]
    );
    assert_eq!(
        ctl.webex_forwarding("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM"),
        after
    );

    // Enabled without a destination is refused; nothing changes.
    let resp = c
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"callForwarding": {"busy": {"enabled": true}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        ctl.webex_forwarding("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM"),
        after
    );

    // Injected failures.
    ctl.fail_next_webex_calls(1, 503);
    let resp = c
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"callForwarding": {"always": {"enabled": false}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(
        ctl.webex_forwarding("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM")["callForwarding"]["always"]
            ["enabled"],
        true
    );
    let kinds: Vec<(String, u16)> = ctl
        .presence_calls()
        .into_iter()
        .map(|c| (c.kind, c.status))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("webex.getCallForwarding".into(), 401),
            ("webex.getCallForwarding".into(), 401),
            ("webex.getCallForwarding".into(), 200),
            ("webex.putCallForwarding".into(), 204),
            ("webex.getCallForwarding".into(), 200),
            ("webex.putCallForwarding".into(), 400),
            ("webex.putCallForwarding".into(), 503),
        ]
    );
}

// ---- AMI ---------------------------------------------------------------------------------

struct Ami {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl Ami {
    async fn connect(emu: &Emulator) -> (Ami, String) {
        let sock = TcpStream::connect(emu.ami_addr()).await.unwrap();
        let (rd, wr) = sock.into_split();
        let mut rd = BufReader::new(rd);
        let mut banner = String::new();
        rd.read_line(&mut banner).await.unwrap();
        (Ami { rd, wr }, banner)
    }

    async fn send(&mut self, lines: &[(&str, &str)]) {
        let mut out = String::new();
        for (k, v) in lines {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        self.wr.write_all(out.as_bytes()).await.unwrap();
    }

    /// One packet as (key, value) pairs; None at the end of the stream.
    async fn packet(&mut self) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(5), self.rd.read_line(&mut line))
                .await
                .expect("AMI answered in time")
                .unwrap();
            if n == 0 {
                return None;
            }
            assert!(line.ends_with("\r\n"), "lines end with CRLF: {line:?}");
            let l = line.trim_end();
            if l.is_empty() {
                return Some(out);
            }
            let (k, v) = l.split_once(": ").unwrap();
            out.push((k.to_string(), v.to_string()));
        }
    }

    /// The next packet that is not an unsolicited event.
    async fn response(&mut self) -> Vec<(String, String)> {
        loop {
            let p = self.packet().await.expect("a packet");
            if p[0].0 != "Event" || get(&p, "ActionID").is_some() {
                return p;
            }
        }
    }
}

fn get<'a>(p: &'a [(String, String)], key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn ami_login_dbput_dbget_dbdel() {
    let emu = start().await;
    let ctl = emu.control();
    assert_eq!(emu.ami_addr().ip(), emu.addr().ip());
    assert_ne!(emu.ami_addr().port(), emu.addr().port());

    // A wrong secret: Error, then the connection closes.
    let (mut ami, banner) = Ami::connect(&emu).await;
    assert!(
        banner.starts_with("Asterisk Call Manager/5.0."),
        "{banner:?}"
    );
    assert!(banner.ends_with("\r\n"));
    ami.send(&[
        ("Action", "Login"),
        ("ActionID", "1"),
        ("Username", DEFAULT_AMI_USERNAME),
        ("Secret", "wrong"),
    ])
    .await;
    let p = ami.response().await;
    assert_eq!(get(&p, "Response"), Some("Error"));
    assert_eq!(get(&p, "ActionID"), Some("1"));
    assert_eq!(get(&p, "Message"), Some("Authentication failed"));
    assert!(ami.packet().await.is_none(), "closed after a failed login");

    // Actions before login are refused.
    let (mut ami, _) = Ami::connect(&emu).await;
    ami.send(&[
        ("Action", "DBPut"),
        ("ActionID", "a"),
        ("Family", "CF"),
        ("Key", "1001"),
        ("Val", "0301234"),
    ])
    .await;
    let p = ami.response().await;
    assert_eq!(get(&p, "Response"), Some("Error"));
    assert_eq!(get(&p, "Message"), Some("Permission denied"));
    assert!(ctl.ami_db().is_empty());

    // Configured credentials.
    ctl.set_ami_credentials("freepbx", "s3cret");
    ami.send(&[
        ("Action", "Login"),
        ("ActionID", "2"),
        ("Username", DEFAULT_AMI_USERNAME),
        ("Secret", DEFAULT_AMI_SECRET),
    ])
    .await;
    assert_eq!(get(&ami.response().await, "Response"), Some("Error"));
    let (mut ami, _) = Ami::connect(&emu).await;
    ami.send(&[
        ("Action", "Login"),
        ("ActionID", "3"),
        ("Username", "freepbx"),
        ("Secret", "s3cret"),
    ])
    .await;
    let p = ami.packet().await.unwrap();
    assert_eq!(get(&p, "Response"), Some("Success"));
    assert_eq!(get(&p, "ActionID"), Some("3"));
    assert_eq!(get(&p, "Message"), Some("Authentication accepted"));
    let p = ami.packet().await.unwrap();
    assert_eq!(get(&p, "Event"), Some("FullyBooted"));

    ami.send(&[
        ("Action", "DBPut"),
        ("ActionID", "4"),
        ("Family", "CF"),
        ("Key", "1001"),
        ("Val", "0301234"),
    ])
    .await;
    let p = ami.response().await;
    assert_eq!(get(&p, "Response"), Some("Success"), "{p:?}");
    assert_eq!(get(&p, "ActionID"), Some("4"));
    assert_eq!(
        ctl.ami_db().get("CF/1001").map(String::as_str),
        Some("0301234")
    );

    ami.send(&[
        ("Action", "DBGet"),
        ("ActionID", "5"),
        ("Family", "CF"),
        ("Key", "1001"),
    ])
    .await;
    let ack = ami.response().await;
    assert_eq!(get(&ack, "Response"), Some("Success"));
    assert_eq!(get(&ack, "EventList"), Some("start"));
    let ev = ami.packet().await.unwrap();
    assert_eq!(get(&ev, "Event"), Some("DBGetResponse"));
    assert_eq!(get(&ev, "Family"), Some("CF"));
    assert_eq!(get(&ev, "Key"), Some("1001"));
    assert_eq!(get(&ev, "Val"), Some("0301234"));
    assert_eq!(get(&ev, "ActionID"), Some("5"));
    let done = ami.packet().await.unwrap();
    assert_eq!(get(&done, "Event"), Some("DBGetComplete"));
    assert_eq!(get(&done, "ActionID"), Some("5"));
    assert_eq!(get(&done, "ListItems"), Some("1"));

    ami.send(&[
        ("Action", "DBDel"),
        ("ActionID", "6"),
        ("Family", "CF"),
        ("Key", "1001"),
    ])
    .await;
    assert_eq!(get(&ami.response().await, "Response"), Some("Success"));
    assert!(ctl.ami_db().is_empty());
    ami.send(&[
        ("Action", "DBGet"),
        ("ActionID", "7"),
        ("Family", "CF"),
        ("Key", "1001"),
    ])
    .await;
    let p = ami.response().await;
    assert_eq!(get(&p, "Response"), Some("Error"));
    assert_eq!(get(&p, "Message"), Some("Database entry not found"));
    ami.send(&[
        ("Action", "DBDel"),
        ("ActionID", "8"),
        ("Family", "CF"),
        ("Key", "1001"),
    ])
    .await;
    assert_eq!(get(&ami.response().await, "Response"), Some("Error"));

    // An injected failure of a database write.
    ctl.fail_next_ami_actions(1);
    ami.send(&[
        ("Action", "DBPut"),
        ("ActionID", "9"),
        ("Family", "CFB"),
        ("Key", "1001"),
        ("Val", "vm"),
    ])
    .await;
    assert_eq!(get(&ami.response().await, "Response"), Some("Error"));
    assert!(ctl.ami_db().is_empty());

    ami.send(&[("Action", "Logoff"), ("ActionID", "10")]).await;
    let p = ami.response().await;
    assert_eq!(get(&p, "Response"), Some("Goodbye"));
    assert_eq!(get(&p, "ActionID"), Some("10"));
    let mut rest = Vec::new();
    ami.rd.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "closed after Logoff");

    // Recorded, secrets redacted.
    let calls: Vec<_> = ctl
        .presence_calls()
        .into_iter()
        .filter(|c| c.kind.starts_with("ami."))
        .collect();
    let kinds: Vec<(&str, u16)> = calls.iter().map(|c| (c.kind.as_str(), c.status)).collect();
    assert_eq!(
        kinds,
        vec![
            ("ami.Login", 401),
            ("ami.DBPut", 401),
            ("ami.Login", 401),
            ("ami.Login", 200),
            ("ami.DBPut", 200),
            ("ami.DBGet", 200),
            ("ami.DBDel", 200),
            ("ami.DBGet", 400),
            ("ami.DBDel", 400),
            ("ami.DBPut", 400),
            ("ami.Logoff", 200),
        ]
    );
    assert_eq!(calls[3].body["Secret"], "[redacted]");
    assert_eq!(calls[4].body["Val"], "0301234");
}

#[tokio::test]
async fn sink_records_and_fails_on_demand() {
    let emu = start().await;
    let ctl = emu.control();
    let c = client();
    let resp = c
        .post(format!("{}/forwarding/on?ext=1001", emu.sink_url()))
        .bearer_auth("very-secret")
        .header("X-Custom", "yes")
        .json(&json!({"target": "+4930123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    ctl.set_sink_status(500);
    let resp = c
        .delete(format!("{}/forwarding", emu.sink_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    ctl.set_sink_status(204);
    let resp = c.put(emu.sink_url()).body("plain").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);

    let reqs = ctl.sink_requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/sink/forwarding/on");
    assert_eq!(reqs[0].query.as_deref(), Some("ext=1001"));
    assert_eq!(reqs[0].header("authorization"), Some("[redacted]"));
    assert_eq!(reqs[0].header("x-custom"), Some("yes"));
    assert_eq!(reqs[0].json(), Some(json!({"target": "+4930123"})));
    assert_eq!(reqs[0].status, 200);
    assert!(!format!("{reqs:?}").contains("very-secret"));
    assert_eq!((reqs[1].method.as_str(), reqs[1].status), ("DELETE", 500));
    assert_eq!(
        (reqs[2].path.as_str(), reqs[2].body.as_str()),
        ("/sink", "plain")
    );
    let calls = ctl.presence_calls();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(|c| c.kind == "sink"));
    assert_eq!(calls[0].body["body"]["target"], "+4930123");
}

#[tokio::test]
async fn calls_are_recorded_with_timestamps_and_failures_injected() {
    let emu = start().await;
    let ctl = emu.control();
    let g = Graph::new(&emu);
    let t0 = chrono::Utc::now();
    assert_eq!(g.set_presence("Busy", "InACall", "PT1H").await, 200);
    g.get("/me/presence").await;
    ctl.fail_next_presence_calls(2, 429);
    let (status, headers, body) = g
        .post(
            "/me/presence/setUserPreferredPresence",
            json!({"availability": "Busy", "activity": "Busy"}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers["retry-after"], "1");
    assert!(body["error"]["code"].as_str().is_some());
    let (status, _) = g.get("/me/mailboxSettings").await;
    assert_eq!(status, 429);
    assert!(
        ctl.preferred_presence().is_null(),
        "a failed call changes nothing"
    );
    ctl.fail_next_presence_calls(1, 503);
    let (status, _) = g
        .patch(
            "/me/mailboxSettings",
            json!({"automaticRepliesSetting": {"status": "alwaysEnabled"}}),
        )
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        g.post(
            "/me/presence/clearPresence",
            json!({"sessionId": DEMO_CLIENT_ID})
        )
        .await
        .0,
        200
    );
    let t1 = chrono::Utc::now();

    let calls = ctl.presence_calls();
    let kinds: Vec<(&str, u16)> = calls.iter().map(|c| (c.kind.as_str(), c.status)).collect();
    assert_eq!(
        kinds,
        vec![
            ("setPresence", 200),
            ("getPresence", 200),
            ("setUserPreferredPresence", 429),
            ("getMailboxSettings", 429),
            ("updateMailboxSettings", 503),
            ("clearPresence", 200),
        ]
    );
    assert!(calls.iter().all(|c| c.at >= t0 && c.at <= t1));
    assert!(calls.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(calls[0].body["availability"], "Busy");
    assert_eq!(calls[0].body["expirationDuration"], "PT1H");
    assert!(calls[1].body.is_null());
    assert_eq!(calls[5].body, json!({"sessionId": DEMO_CLIENT_ID}));

    // The control API serves the same record.
    let all: Value = client()
        .get(format!("{}/_emulator/automation", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["calls"].as_array().unwrap().len(), 6);
    assert_eq!(all["presence"]["availability"], "Available");
    ctl.clear_presence_calls();
    assert!(ctl.presence_calls().is_empty());
}

#[tokio::test]
async fn a_held_call_waits_until_released_and_only_count_are_held() {
    let emu = start().await;
    let ctl = emu.control();
    let g = std::sync::Arc::new(Graph::new(&emu));
    ctl.hold_presence_calls("setPresence", None, 1);
    let held = {
        let g = g.clone();
        tokio::spawn(async move { g.set_presence("Busy", "InACall", "PT1H").await })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ctl.held_presence_calls() < 1 {
        assert!(std::time::Instant::now() < deadline, "never held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Other calls go on meanwhile; the held one is neither answered, applied nor recorded.
    assert_eq!(g.presence().await, pair("Available", "Available"));
    // Only `count` calls are held: the next one is served at once.
    assert_eq!(g.set_presence("Away", "Away", "PT1H").await, 200);
    assert!(!held.is_finished());
    let kinds = || -> Vec<String> { ctl.presence_calls().into_iter().map(|c| c.kind).collect() };
    assert_eq!(kinds(), vec!["getPresence", "setPresence"]);

    ctl.release_presence_calls();
    assert_eq!(ctl.held_presence_calls(), 0);
    assert_eq!(held.await.unwrap(), 200);
    assert_eq!(g.presence().await, pair("Busy", "InACall"));
    assert_eq!(
        kinds(),
        vec!["getPresence", "setPresence", "setPresence", "getPresence"]
    );
}
