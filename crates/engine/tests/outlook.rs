//! Opening an appointment in classic desktop Outlook: the REST id translated to a MAPI entry
//! id by the emulator's `translateExchangeIds`, over real HTTP.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use presently_emulator::{Emulator, Fault, PRIMARY_CALENDAR_ID};
use presently_engine::engine::SyncOptions;
use presently_engine::links::{outlook_desktop_command, DesktopOutlook};
use presently_engine::{Engine, Error};
use serde_json::json;
use std::path::Path;

/// The emulator's own answer for `id`, decoded as Graph documents binary ids (URL-safe
/// base64 without padding, then the padding count), in uppercase hex.
async fn entry_id_from_the_wire(emu: &Emulator, id: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1.0/me/translateExchangeIds", emu.base_url()))
        .bearer_auth(emu.control().issue_access_token_for_tests())
        .json(&json!({"inputIds": [id], "sourceIdType": "restId", "targetIdType": "entryId"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wire = answer["value"][0]["targetId"].as_str().unwrap();
    let (base64, padding) = wire.split_at(wire.len() - 1);
    assert_eq!(
        padding, "2",
        "a 70-byte entry id has two characters of padding"
    );
    let bytes = URL_SAFE_NO_PAD.decode(base64).unwrap();
    assert_eq!(bytes.len(), 70);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

async fn synced(emu: &Emulator, dir: &Path) -> (Engine, Vec<String>) {
    let engine = engine(emu, dir, config_for(emu), clock()).await;
    engine.sync(SyncOptions::default()).await.unwrap();
    let ids = stored(dir, PRIMARY_CALENDAR_ID).into_keys().collect();
    (engine, ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_appointments_entry_id_round_trips_to_the_outlook_command() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, ids) = synced(&emu, dir.path()).await;
    assert!(ids.len() > 2);

    let target = engine.outlook_desktop_target(&ids[0]).await.unwrap();
    let expected = entry_id_from_the_wire(&emu, &ids[0]).await;
    assert_eq!(
        target,
        DesktopOutlook {
            entry_id_hex: expected.clone()
        }
    );
    assert_eq!(target.entry_id_hex.len(), 140);
    assert!(target.entry_id_hex.starts_with("00000000"));
    // Occurrences of a series translate too, each to its own id.
    let other = engine.outlook_desktop_target(&ids[1]).await.unwrap();
    assert_ne!(other, target);
    assert_eq!(
        engine.outlook_desktop_target(&ids[0]).await.unwrap(),
        target
    );

    let exe = Path::new(r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE");
    let (program, args) = outlook_desktop_command(exe, &target.entry_id_hex);
    assert_eq!(program, exe);
    assert_eq!(
        args,
        vec!["/select".to_owned(), format!("outlook:{expected}")]
    );

    let calls: Vec<_> = emu
        .control()
        .request_log()
        .into_iter()
        .filter(|r| r.path.ends_with("/translateExchangeIds"))
        .collect();
    assert!(calls.iter().all(|r| r.status == 200), "{calls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_the_service_cannot_translate_is_a_server_error() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&emu, dir.path(), config_for(&emu), clock()).await;
    let err = engine
        .outlook_desktop_target("AAMkNotAnEventOfThisMailbox")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Server { code, .. } if code == "ErrorInvalidIdMalformed"),
        "{err:?}"
    );
    let err = engine.outlook_desktop_target("").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_answer_is_a_malformed_response() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, ids) = synced(&emu, dir.path()).await;
    emu.control().push_fault(Fault::TruncatedJson { count: 1 });
    let err = engine.outlook_desktop_target(&ids[0]).await.unwrap_err();
    assert!(matches!(err, Error::MalformedResponse(_)), "{err:?}");
    // The next call is answered whole again.
    assert!(engine.outlook_desktop_target(&ids[0]).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_gets_one_refresh_and_a_retry() {
    let emu = demo_emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, ids) = synced(&emu, dir.path()).await;
    emu.control().expire_access_tokens();
    let target = engine.outlook_desktop_target(&ids[0]).await.unwrap();
    assert_eq!(
        target.entry_id_hex,
        entry_id_from_the_wire(&emu, &ids[0]).await
    );
    let log = emu.control().request_log();
    let translate: Vec<u16> = log
        .iter()
        .filter(|r| r.path.ends_with("/translateExchangeIds"))
        .map(|r| r.status)
        .collect();
    assert_eq!(&translate[..2], &[401, 200], "{translate:?}");
}
