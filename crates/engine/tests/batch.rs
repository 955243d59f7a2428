//! JSON batching against the emulator over loopback: answers matched by id (the emulator,
//! as Graph may, answers out of order), a request throttled inside the batch handed back to
//! be retried alone while the others are answered, `dependsOn` and Graph's limits.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use presently_emulator::Fault;
use presently_engine::graph::batch::{Batch, BatchOutcome, BatchRequest};
use presently_engine::graph::GraphClient;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_answered_per_request_and_a_throttled_one_comes_back_alone() {
    let emu = common::demo_emulator().await;
    let client = GraphClient::new(&emu.base_url()).unwrap();
    let token = SecretString::from(emu.control().issue_access_token_for_tests());
    let batch = Batch::new(vec![
        BatchRequest::get("throttled", "/me/calendars"),
        BatchRequest::get("me", "me"),
        BatchRequest::get("calendars", "/me/calendars"),
        BatchRequest::get("missing", "/me/events/no-such-event"),
    ])
    .unwrap();
    // The first request run inside the batch is throttled, the batch itself is not.
    emu.control().push_fault(Fault::Throttle {
        count: 1,
        retry_after_secs: 3,
    });
    let outcomes = client.batch(&token, &batch).await.unwrap();
    let ids: Vec<&str> = outcomes.iter().map(BatchOutcome::id).collect();
    assert_eq!(
        ids,
        ["throttled", "me", "calendars", "missing"],
        "in the order sent"
    );
    assert_eq!(
        outcomes[0],
        BatchOutcome::Retry {
            id: "throttled".into(),
            after: Duration::from_secs(3)
        }
    );
    let BatchOutcome::Answered { status, body, .. } = &outcomes[1] else {
        panic!("{:?}", outcomes[1]);
    };
    assert_eq!(*status, 200);
    assert!(body["userPrincipalName"].is_string(), "{body}");
    let BatchOutcome::Answered { status, body, .. } = &outcomes[2] else {
        panic!("{:?}", outcomes[2]);
    };
    assert_eq!(*status, 200);
    assert!(!body["value"].as_array().unwrap().is_empty(), "{body}");
    let BatchOutcome::Answered { status, body, .. } = &outcomes[3] else {
        panic!("{:?}", outcomes[3]);
    };
    assert_eq!(*status, 404);
    assert!(body["error"]["code"].is_string(), "{body}");
    // The throttled one, retried alone, goes through.
    let again = Batch::new(vec![BatchRequest::get("throttled", "/me/calendars")]).unwrap();
    let outcomes = client.batch(&token, &again).await.unwrap();
    assert!(
        matches!(&outcomes[0], BatchOutcome::Answered { status: 200, .. }),
        "{outcomes:?}"
    );
}

/// What the engine's builder never sends, checked at the emulator: more than 20 requests,
/// twice the same id, a body without its content type, no token; and `dependsOn`.
#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_holds_batches_to_graphs_rules() {
    let emu = common::demo_emulator().await;
    let url = format!("{}/v1.0/$batch", emu.base_url());
    let token = emu.control().issue_access_token_for_tests();
    let http = reqwest::Client::new();
    let send = |body: Value, token: Option<String>| {
        let mut request = http.post(&url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let get = |id: &str| json!({"id": id, "method": "GET", "url": "/me"});
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    let (status, body) = send(json!({"requests": too_many}), Some(token.clone())).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = send(
        json!({"requests": [get("a"), get("A")]}),
        Some(token.clone()),
    )
    .await;
    assert_eq!(status, 400, "ids are not case-sensitive");
    let (status, _) = send(json!({"requests": [get("a")]}), None).await;
    assert_eq!(status, 401);
    let (status, body) = send(
        json!({"requests": [
            {"id": "1", "method": "GET", "url": "/me/events/no-such-event"},
            {"id": "2", "method": "GET", "url": "/me", "dependsOn": ["1"]},
            {"id": "3", "method": "POST", "url": "/me/translateExchangeIds", "body": {}},
            {"id": "4", "method": "GET", "url": "/me", "dependsOn": ["3x"]},
            get("5"),
        ]}),
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let status_of = |id: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].as_u64().unwrap())
    };
    assert_eq!(status_of("1"), Some(404));
    assert_eq!(status_of("2"), Some(424), "its dependency failed");
    assert_eq!(status_of("3"), Some(400), "a body needs its Content-Type");
    assert_eq!(status_of("4"), Some(424), "an unknown dependency");
    assert_eq!(status_of("5"), Some(200));
    assert_eq!(body["responses"][0]["id"], "5", "answered out of order");
}
