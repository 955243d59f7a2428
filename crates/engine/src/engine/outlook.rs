//! Opening an appointment in classic desktop Outlook (Windows): Graph translates the item's
//! REST id into the MAPI entry id that `outlook.exe /select outlook:<EntryID>` takes.
//! The shell runs the command ([`crate::links::outlook_desktop_command`]) and falls back to
//! Outlook on the web when anything here fails.

use super::Engine;
use crate::error::Error;
use crate::links::DesktopOutlook;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

impl Engine {
    /// Classic desktop Outlook's identifier for the item with Graph (REST) id `id`, from
    /// `POST /me/translateExchangeIds` (restId → entryId). A 401 gets one token refresh and
    /// one retry; an answer without a usable entry id is [`Error::MalformedResponse`]; the
    /// service refusing this one id (its `errorDetails`) is [`Error::Server`].
    pub async fn outlook_desktop_target(&self, id: &str) -> Result<DesktopOutlook, Error> {
        if id.is_empty() {
            return Err(Error::InvalidInput("no item id to open".into()));
        }
        let url = self.graph().url("/v1.0/me/translateExchangeIds")?;
        let body = serde_json::json!({
            "inputIds": [id],
            "sourceIdType": "restId",
            "targetIdType": "entryId",
        });
        let answer = self
            .authed(|token| {
                let (url, body) = (url.clone(), &body);
                async move { self.graph().post_json(url, &token, body).await }
            })
            .await?;
        Ok(DesktopOutlook {
            entry_id_hex: entry_id_hex_from_answer(&answer)?,
        })
    }
}

/// A `convertIdResult` collection.
#[derive(Deserialize)]
struct TranslateAnswer {
    value: Vec<ConvertIdResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConvertIdResult {
    target_id: Option<String>,
    error_details: Option<GenericError>,
}

#[derive(Deserialize)]
struct GenericError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The first result's entry id, in uppercase hex.
fn entry_id_hex_from_answer(body: &[u8]) -> Result<String, Error> {
    let malformed = |what: &str| Error::MalformedResponse(format!("translateExchangeIds: {what}"));
    let answer: TranslateAnswer =
        serde_json::from_slice(body).map_err(|e| malformed(&e.to_string()))?;
    let first = answer
        .value
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no result"))?;
    if let Some(err) = first.error_details {
        return Err(Error::Server {
            // The request succeeded; the service refused this one id.
            status: 200,
            code: if err.code.is_empty() {
                "unknown".into()
            } else {
                err.code
            },
            message: err.message,
        });
    }
    let target = first
        .target_id
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("no targetId"))?;
    let bytes =
        decode_entry_id(&target).ok_or_else(|| malformed("the entry id is not URL-safe base64"))?;
    Ok(to_hex(&bytes))
}

/// Decodes a binary id as Graph writes it: URL-safe base64 with the `=` padding removed and
/// its count (`0`, `1` or `2`) appended. Plain URL-safe base64, padded or not (and the
/// standard alphabet), is accepted too.
pub(crate) fn decode_entry_id(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if let Some(&last @ b'0'..=b'2') = text.as_bytes().last() {
        // The digit is ASCII: cutting one byte stays on a character boundary.
        let body = &text[..text.len() - 1];
        let padding = usize::from(last - b'0');
        if (body.len() + padding).is_multiple_of(4) {
            if let Ok(bytes) = URL_SAFE_NO_PAD.decode(body) {
                if !bytes.is_empty() {
                    return Some(bytes);
                }
            }
        }
    }
    let plain: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD
        .decode(plain)
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 70-byte message entry id ([MS-OXCDATA] 2.2.4.3): flags, provider UID, type 0x0007,
    /// folder database GUID + counter, padding, message database GUID + counter, padding.
    const ENTRY_ID_HEX: &str = "00000000\
        1B55FA20AA6611CD9BC800AA002FC45A\
        0700\
        C1A2B3C4D5E6F708192A3B4C5D6E7F80\
        000000000104\
        0000\
        C1A2B3C4D5E6F708192A3B4C5D6E7F80\
        0000002F3E51\
        0000";

    fn from_hex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn graph_entry_ids_decode_to_uppercase_hex() {
        // 70 bytes: two `=` of padding, written as a trailing "2".
        let bytes = from_hex(ENTRY_ID_HEX);
        assert_eq!(bytes.len(), 70);
        let graph_form = "AAAAABtV-iCqZhHNm8gAqgAvxFoHAMGis8TV5vcIGSo7TF1uf4AAAAAAAQQAAMGis8TV5vcIGSo7TF1uf4AAAAAvPlEAAA2";
        assert_eq!(decode_entry_id(graph_form).unwrap(), bytes);
        assert_eq!(to_hex(&decode_entry_id(graph_form).unwrap()), ENTRY_ID_HEX);
        // The same id padded, unpadded, and in the standard alphabet.
        let padded = "AAAAABtV-iCqZhHNm8gAqgAvxFoHAMGis8TV5vcIGSo7TF1uf4AAAAAAAQQAAMGis8TV5vcIGSo7TF1uf4AAAAAvPlEAAA==";
        assert_eq!(decode_entry_id(padded).unwrap(), bytes);
        assert_eq!(
            decode_entry_id(padded.trim_end_matches('=')).unwrap(),
            bytes
        );
        assert_eq!(decode_entry_id(&padded.replace('-', "+")).unwrap(), bytes);
    }

    #[test]
    fn every_padding_count_is_read() {
        // 6 bytes (no padding), 5 bytes (one `=`), 4 bytes (two).
        assert_eq!(
            to_hex(&decode_entry_id("AAAAAPv_0").unwrap()),
            "00000000FBFF"
        );
        assert_eq!(to_hex(&decode_entry_id("AAAAAPs1").unwrap()), "00000000FB");
        assert_eq!(to_hex(&decode_entry_id("AAAAAA2").unwrap()), "00000000");
        assert_eq!(
            to_hex(&decode_entry_id("AAAAAPv_").unwrap()),
            "00000000FBFF"
        );
        assert_eq!(decode_entry_id(""), None);
        assert_eq!(decode_entry_id("not base64!"), None);
        assert_eq!(decode_entry_id("A"), None);
    }

    #[test]
    fn the_answer_gives_the_first_results_entry_id() {
        let body =
            br#"{"@odata.context":"x","value":[{"sourceId":"AAMk","targetId":"AAAAAPv_0"}]}"#;
        assert_eq!(entry_id_hex_from_answer(body).unwrap(), "00000000FBFF");
    }

    #[test]
    fn unusable_answers_are_malformed_and_refusals_are_server_errors() {
        for body in [
            &b"{\"value\": ["[..],
            br#"{"value": []}"#,
            br#"{"value": [{"sourceId": "AAMk"}]}"#,
            br#"{"value": [{"sourceId": "AAMk", "targetId": "%%%"}]}"#,
            br#"{"error": {"code": "x"}}"#,
        ] {
            let err = entry_id_hex_from_answer(body).unwrap_err();
            assert!(matches!(err, Error::MalformedResponse(_)), "{err}");
        }
        let refused = br#"{"value": [{"sourceId": "x", "errorDetails": {"code": "ErrorInvalidIdMalformed", "message": "Id is malformed."}}]}"#;
        let err = entry_id_hex_from_answer(refused).unwrap_err();
        assert!(
            matches!(&err, Error::Server { code, .. } if code == "ErrorInvalidIdMalformed"),
            "{err}"
        );
    }
}
