//! A fake Asterisk Manager Interface (AMI) on its own TCP port (`Emulator::ami_addr`), as
//! FreePBX's call forwarding uses it: the Asterisk database (`CF/<ext>` unconditional,
//! `CFB/<ext>` busy, `CFU/<ext>` unavailable).
//!
//! The protocol as Asterisk speaks it: on connect the banner `Asterisk Call Manager/5.0.2`;
//! then packets of `Key: Value` lines ending with an empty line (`\r\n\r\n`). Supported
//! actions: `Login` (Username, Secret; a failed login closes the connection), `Logoff`
//! (`Response: Goodbye`), `Ping`, `DBPut` (Family, Key, Val), `DBGet` (a `Success` list
//! ack, then the event `DBGetResponse` and the event `DBGetComplete`), `DBDel`. Responses
//! are `Response: Success|Error`, with the request's `ActionID` echoed and a `Message`.
//! After a login without `Events: off`, the event `FullyBooted` follows the response, as
//! Asterisk sends it.

use std::fmt::Write as _;

use chrono::Utc;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::state::AppState;

pub const BANNER: &str = "Asterisk Call Manager/5.0.2\r\n";

/// Accepts connections until the emulator stops.
pub async fn serve(listener: TcpListener, st: AppState) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, _)) => {
                    tokio::spawn(session(sock, st.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "AMI: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            () = st.stopped() => break,
        }
    }
}

type Headers = Vec<(String, String)>;

fn header<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads one packet: `Key: Value` lines up to an empty line. `None` at the end of the
/// stream (or on a read error).
async fn read_packet<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<Headers> {
    let mut headers = Headers::new();
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            if headers.is_empty() {
                continue;
            }
            return Some(headers);
        }
        match l.split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_string(), v.trim_start().to_string())),
            None => headers.push((l.trim().to_string(), String::new())),
        }
    }
}

/// A response packet: `Response`, `ActionID` (if the request had one), extra lines,
/// `Message`.
fn response(kind: &str, action_id: Option<&str>, extra: &[(&str, &str)], message: &str) -> String {
    let mut out = format!("Response: {kind}\r\n");
    if let Some(id) = action_id {
        let _ = write!(out, "ActionID: {id}\r\n");
    }
    for (k, v) in extra {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    if !message.is_empty() {
        let _ = write!(out, "Message: {message}\r\n");
    }
    out.push_str("\r\n");
    out
}

async fn session(sock: TcpStream, st: AppState) {
    let _ = sock.set_nodelay(true);
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    if wr.write_all(BANNER.as_bytes()).await.is_err() {
        return;
    }
    let mut authenticated = false;
    loop {
        let packet = tokio::select! {
            p = read_packet(&mut rd) => p,
            () = st.stopped() => None,
        };
        let Some(packet) = packet else { break };
        let (out, close) = handle(&st, &mut authenticated, &packet);
        if wr.write_all(out.as_bytes()).await.is_err() || close {
            break;
        }
    }
    let _ = wr.shutdown().await;
}

/// Answers one action: the bytes to send and whether to close the connection.
fn handle(st: &AppState, authenticated: &mut bool, h: &Headers) -> (String, bool) {
    let at = Utc::now();
    let id = header(h, "ActionID");
    let action = header(h, "Action").unwrap_or_default().trim().to_string();
    let known = ["Login", "Logoff", "Ping", "DBPut", "DBGet", "DBDel"]
        .iter()
        .find(|a| a.eq_ignore_ascii_case(&action))
        .copied();
    let kind = format!(
        "ami.{}",
        known.unwrap_or(if action.is_empty() { "?" } else { &action })
    );
    let mut record_body = Map::new();
    for (k, v) in h {
        let v = if k.eq_ignore_ascii_case("Secret") {
            "[redacted]".to_string()
        } else {
            v.clone()
        };
        record_body.insert(k.clone(), Value::String(v));
    }
    let record = |status: u16| {
        st.automation()
            .record(at, &kind, Value::Object(record_body.clone()), status);
    };
    let error = |message: &str| response("Error", id, &[], message);

    if action.is_empty() {
        record(400);
        return (error("Missing action in request"), false);
    }
    match known {
        Some("Login") => {
            let (user, secret) = {
                let a = st.automation();
                (a.ami_username.clone(), a.ami_secret.clone())
            };
            let ok = header(h, "Username").is_some_and(|u| u.eq_ignore_ascii_case(&user))
                && header(h, "Secret") == Some(secret.as_str());
            if !ok {
                record(401);
                return (error("Authentication failed"), true);
            }
            *authenticated = true;
            record(200);
            let mut out = response("Success", id, &[], "Authentication accepted");
            let events_off = header(h, "Events").is_some_and(|e| e.eq_ignore_ascii_case("off"));
            if !events_off {
                out.push_str("Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 3600\r\nLastReload: 3600\r\nStatus: Fully Booted\r\n\r\n");
            }
            (out, false)
        }
        Some("Logoff") => {
            record(200);
            (
                response("Goodbye", id, &[], "Thanks for all the fish."),
                true,
            )
        }
        _ if !*authenticated => {
            record(401);
            (error("Permission denied"), false)
        }
        Some("Ping") => {
            record(200);
            let ts = format!("{:.6}", Utc::now().timestamp_micros() as f64 / 1e6);
            (
                response("Success", id, &[("Ping", "Pong"), ("Timestamp", &ts)], ""),
                false,
            )
        }
        Some(db @ ("DBPut" | "DBGet" | "DBDel")) => {
            let Some(family) = header(h, "Family").filter(|f| !f.is_empty()) else {
                record(400);
                return (error("No family specified."), false);
            };
            let Some(key) = header(h, "Key").filter(|k| !k.is_empty()) else {
                record(400);
                return (error("No key specified."), false);
            };
            let full = format!("{family}/{key}");
            let mut a = st.automation();
            let fail = a.ami_failures > 0 && db != "DBGet";
            if fail {
                a.ami_failures -= 1;
            }
            let (status, out) = match db {
                "DBPut" if fail => (400, error("Failed to update entry")),
                "DBPut" => {
                    let val = header(h, "Val").unwrap_or_default().to_string();
                    a.ami_db.insert(full, val);
                    (
                        200,
                        response("Success", id, &[], "Updated database successfully"),
                    )
                }
                "DBDel" if fail => (400, error("Database entry not deleted")),
                "DBDel" => match a.ami_db.remove(&full) {
                    Some(_) => (
                        200,
                        response("Success", id, &[], "Key deleted successfully"),
                    ),
                    None => (400, error("Database entry not found")),
                },
                _ => match a.ami_db.get(&full) {
                    Some(val) => {
                        let mut out = response(
                            "Success",
                            id,
                            &[("EventList", "start")],
                            "Result will follow",
                        );
                        let _ = write!(
                            out,
                            "Event: DBGetResponse\r\nFamily: {family}\r\nKey: {key}\r\nVal: {val}\r\n"
                        );
                        if let Some(id) = id {
                            let _ = write!(out, "ActionID: {id}\r\n");
                        }
                        out.push_str("\r\nEvent: DBGetComplete\r\n");
                        if let Some(id) = id {
                            let _ = write!(out, "ActionID: {id}\r\n");
                        }
                        out.push_str("EventList: Complete\r\nListItems: 1\r\n\r\n");
                        (200, out)
                    }
                    None => (400, error("Database entry not found")),
                },
            };
            a.record(at, &kind, Value::Object(record_body.clone()), status);
            (out, false)
        }
        _ => {
            record(400);
            (
                error(&format!(
                    "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
                )),
                false,
            )
        }
    }
}
