//! `POST /me/translateExchangeIds`: translates item ids between Exchange's formats, as
//! `user: translateExchangeIds` documents it.
//!
//! The emulator translates REST ids (`restId`) of the mailbox's events and occurrences to
//! `entryId` (and to `restId`, unchanged). An entry id is shaped like a MAPI message entry
//! id ([MS-OXCDATA] 2.2.4.3, 70 bytes: flags, the store's provider UID, type 0x0007, the
//! folder's and the message's database GUID and global counter), deterministic from the
//! user, the calendar and the item id. Binary ids are written as the service writes them:
//! URL-safe base64 without its `=` padding, followed by the padding count (`0`, `1`, `2`).
//! An id the mailbox does not know gets a per-id `errorDetails` in the 200 answer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{graph_error, ok_json};
use crate::mailbox::Resolved;
use crate::state::AppState;

/// Ids per request, as the service allows.
const MAX_INPUT_IDS: usize = 1000;

/// The formats of `exchangeIdFormat`.
const FORMATS: &[&str] = &[
    "entryId",
    "ewsId",
    "immutableEntryId",
    "restId",
    "restImmutableEntryId",
];

fn bad_request(message: &str, headers: &HeaderMap) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", message, headers)
}

pub(super) async fn translate_exchange_ids(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.iter().all(u8::is_ascii_whitespace) {
        return bad_request("Empty Payload. JSON content expected.", &headers);
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            &headers,
        );
    };
    let Some(inputs) = req.get("inputIds").and_then(Value::as_array) else {
        return bad_request(
            "The parameter 'inputIds' in the request payload is not a valid parameter for the function 'translateExchangeIds'.",
            &headers,
        );
    };
    let Some(inputs) = inputs
        .iter()
        .map(Value::as_str)
        .collect::<Option<Vec<&str>>>()
    else {
        return bad_request(
            "Cannot convert the literal to the expected type 'Edm.String'.",
            &headers,
        );
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUT_IDS {
        return bad_request(
            &format!("inputIds must hold 1 to {MAX_INPUT_IDS} identifiers."),
            &headers,
        );
    }
    let mut formats = [("sourceIdType", ""), ("targetIdType", "")];
    for (name, value) in &mut formats {
        match req.get(*name).and_then(Value::as_str) {
            Some(v) if FORMATS.contains(&v) => *value = v,
            Some(v) => {
                return bad_request(&format!("Requested value '{v}' was not found."), &headers)
            }
            None => return bad_request(&format!("The parameter '{name}' is required."), &headers),
        }
    }
    let [(_, source), (_, target)] = formats;
    if source != "restId" || !matches!(target, "entryId" | "restId") {
        return graph_error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            &format!(
                "The emulator translates restId to entryId or restId, not {source} to {target}."
            ),
            &headers,
        );
    }
    let mb = st.mailbox();
    let user_id = mb.user.id.clone();
    let value: Vec<Value> = inputs
        .iter()
        .map(|id| {
            let calendar = match mb.resolve(id) {
                Some(Resolved::Item(r)) | Some(Resolved::Occurrence(r, _)) => {
                    Some(r.calendar_id.clone())
                }
                None => None,
            };
            match calendar {
                Some(calendar) => json!({
                    "sourceId": id,
                    "targetId": if target == "restId" {
                        (*id).to_string()
                    } else {
                        graph_binary(&entry_id(&user_id, &calendar, id))
                    },
                }),
                None => json!({
                    "sourceId": id,
                    "errorDetails": {
                        "code": "ErrorInvalidIdMalformed",
                        "message": "Id is malformed.",
                    },
                }),
            }
        })
        .collect();
    drop(mb);
    let answer = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(microsoft.graph.convertIdResult)", st.base_url),
        "value": value,
    });
    ok_json(&answer, &headers, &[])
}

/// A MAPI message entry id for item `item_id` of `calendar_id` in `user_id`'s mailbox.
pub(crate) fn entry_id(user_id: &str, calendar_id: &str, item_id: &str) -> Vec<u8> {
    let provider = Sha256::digest(format!("store provider/{user_id}").as_bytes());
    let database = Sha256::digest(format!("mailbox database/{user_id}").as_bytes());
    let folder = Sha256::digest(format!("folder/{calendar_id}").as_bytes());
    let message = Sha256::digest(format!("item/{item_id}").as_bytes());
    let mut out = Vec::with_capacity(70);
    out.extend_from_slice(&[0, 0, 0, 0]); // flags
    out.extend_from_slice(&provider[..16]); // the store's provider UID
    out.extend_from_slice(&[0x07, 0x00]); // eitLTPrivateFolder
    out.extend_from_slice(&database[..16]); // folder: database GUID
    out.extend_from_slice(&folder[..6]); // folder: global counter
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&database[..16]); // message: database GUID
    out.extend_from_slice(&message[..6]); // message: global counter
    out.extend_from_slice(&[0, 0]);
    out
}

/// Graph's form of a binary id: URL-safe base64, `=` padding replaced by its count.
pub(crate) fn graph_binary(bytes: &[u8]) -> String {
    let padding = (3 - bytes.len() % 3) % 3;
    format!("{}{padding}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Emulator, EmulatorConfig, PRIMARY_CALENDAR_ID};

    #[test]
    fn binary_ids_carry_their_padding_count() {
        assert_eq!(graph_binary(&[0, 0, 0, 0, 0xfb, 0xff]), "AAAAAPv_0");
        assert_eq!(graph_binary(&[0, 0, 0, 0, 0xfb]), "AAAAAPs1");
        assert_eq!(graph_binary(&[0, 0, 0, 0]), "AAAAAA2");
    }

    #[test]
    fn entry_ids_are_70_deterministic_bytes() {
        let a = entry_id("u", "c", "i1");
        assert_eq!(a.len(), 70);
        assert_eq!(a, entry_id("u", "c", "i1"));
        assert_ne!(a, entry_id("u", "c", "i2"));
        assert_eq!(&a[..4], &[0, 0, 0, 0]);
        assert_eq!(&a[20..22], &[7, 0]);
        // Same database for the folder and the message.
        assert_eq!(&a[22..38], &a[46..62]);
    }

    async fn post(emu: &Emulator, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .post(format!("{}/v1.0/me/translateExchangeIds", emu.base_url()))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    #[tokio::test]
    async fn translates_known_ids_and_reports_unknown_ones() {
        let emu = Emulator::start(EmulatorConfig {
            today: "2026-11-24".parse().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
        let token = emu.control().issue_access_token_for_tests();
        let id = {
            let mb = emu.state.mailbox();
            let from = "2026-11-23T00:00:00Z".parse().unwrap();
            let to = "2026-11-30T00:00:00Z".parse().unwrap();
            mb.view_at(PRIMARY_CALENDAR_ID, mb.seq(), from, to)[0]
                .id
                .clone()
        };
        let request = json!({
            "inputIds": [id, "AAMkNoSuchThing"],
            "sourceIdType": "restId",
            "targetIdType": "entryId",
        });
        let (status, answer) = post(&emu, Some(&token), request.clone()).await;
        assert_eq!(status, 200, "{answer}");
        let expected = graph_binary(&entry_id(crate::DEMO_USER_ID, PRIMARY_CALENDAR_ID, &id));
        assert_eq!(answer["value"][0]["sourceId"], json!(id));
        assert_eq!(answer["value"][0]["targetId"], json!(expected));
        assert!(expected.ends_with('2'), "70 bytes leave two of padding");
        assert_eq!(
            answer["value"][1]["errorDetails"]["code"],
            "ErrorInvalidIdMalformed"
        );
        assert!(answer["value"][1].get("targetId").is_none());
        // The same answer every time.
        assert_eq!(post(&emu, Some(&token), request.clone()).await.1, answer);

        let (status, answer) = post(&emu, None, request).await;
        assert_eq!(status, 401);
        assert_eq!(answer["error"]["code"], "InvalidAuthenticationToken");
        let (status, answer) = post(
            &emu,
            Some(&token),
            json!({"inputIds": [], "sourceIdType": "restId", "targetIdType": "entryId"}),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        let (status, _) = post(
            &emu,
            Some(&token),
            json!({"inputIds": ["x"], "sourceIdType": "restId", "targetIdType": "hexId"}),
        )
        .await;
        assert_eq!(status, 400);
    }
}
