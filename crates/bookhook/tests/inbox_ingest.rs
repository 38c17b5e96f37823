//! The request path in inbox mode: what is stored, what is answered.
#![cfg(feature = "testing")]

use std::sync::Arc;

use bookhook::inbox::{Filter, Inbox, Ingest, MemoryInbox, REDACTED, State};
use bookhook::testing::inbox::DownInbox;
use bookhook::testing::signed_request;
use bookhook::{
    Endpoint, Provider,
    signature::{SignRequest, TokenScheme},
};

const BOOKING: &str =
    r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1"}}"#;
const EAGENDA: &str = r#"{"event":"appointment.created","timestamp":"2026-06-04T14:30:00-03:00","data":{"appointment_key":"apt-1"}}"#;

fn calendence() -> Endpoint {
    Endpoint::builder(Provider::Calendence)
        .secret("s3cr3t")
        .build()
        .unwrap()
}

#[tokio::test]
async fn new_event_is_queued_with_its_row_and_duplicates_are_not_stored_again() {
    let endpoint = calendence();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint.clone(), inbox.clone());
    let (headers, _) = signed_request(&endpoint, BOOKING.as_bytes());

    let first = ingest.receive("POST", &headers, None, BOOKING.into()).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.outcome().as_str(), "queued");
    let id = first.id().expect("a queued event has an id");
    assert_eq!(first.existing_id(), None);
    assert_eq!(
        first.response().body,
        format!(r#"{{"status":"queued","id":{id}}}"#)
    );

    let row = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(row.record.namespace, "calendence");
    assert_eq!(row.record.ordering_key.as_deref(), Some("b-1"));
    assert_eq!(row.record.event_type, "booking.created");
    assert_eq!(row.record.state, State::Pending);
    assert_eq!(row.record.occurred_at_ms, Some(1_774_362_600_000));
    assert_eq!(row.body, BOOKING.as_bytes());
    let names: Vec<&str> = row.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["x-calendence-signature"],
        "only the headers verification and parsing read are kept"
    );

    let again = ingest.receive("POST", &headers, None, BOOKING.into()).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.response().body, r#"{"status":"duplicate"}"#);
    assert_eq!(again.id(), None, "nothing new was stored");
    assert_eq!(again.existing_id(), Some(id), "the row of the first copy");
    assert_eq!(inbox.count(&Filter::default()).await.unwrap(), 1);
}

#[tokio::test]
async fn bearer_token_is_never_stored() {
    let endpoint = Endpoint::builder(Provider::Eagenda)
        .secret("eagenda-token-value")
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint.clone(), inbox.clone()).keep_header("x-trace");
    let mut headers = endpoint
        .sign(EAGENDA.as_bytes(), &SignRequest::now())
        .headers;
    headers.push(("X-Trace".into(), "t-1".into()));
    headers.push(("Cookie".into(), "session=abc".into()));

    let queued = ingest.receive("POST", &headers, None, EAGENDA.into()).await;
    assert_eq!(queued.status(), 200, "{:?}", queued.response());
    let row = inbox.get(queued.id().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        row.headers,
        [
            ("authorization".to_owned(), REDACTED.to_owned()),
            ("x-trace".to_owned(), "t-1".to_owned()),
        ]
    );
    let everything = format!("{row:?}");
    assert!(!everything.contains("eagenda-token-value"));
    assert!(!everything.contains("session=abc"), "cookies are not kept");
}

#[tokio::test]
async fn token_in_a_custom_header_or_the_query_is_never_stored() {
    let endpoint = Endpoint::builder(Provider::Eagenda)
        .scheme(TokenScheme::header("X-Hook-Key", None).or_query("token"))
        .secret("custom-key-value")
        .build()
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint.clone(), inbox.clone());

    let in_header = [("X-Hook-Key", "custom-key-value")];
    let stored = ingest
        .receive("POST", &in_header, None, EAGENDA.into())
        .await;
    assert_eq!(stored.status(), 200, "{:?}", stored.response());
    let row = inbox.get(stored.id().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        row.headers,
        [("x-hook-key".to_owned(), REDACTED.to_owned())]
    );

    let body = EAGENDA.replace("apt-1", "apt-2");
    let no_headers: [(&str, &str); 0] = [];
    let in_query = ingest
        .receive(
            "POST",
            &no_headers,
            Some("token=custom-key-value"),
            body.into(),
        )
        .await;
    assert_eq!(in_query.status(), 200, "{:?}", in_query.response());
    let row = inbox.get(in_query.id().unwrap()).await.unwrap().unwrap();
    assert!(!format!("{row:?}").contains("custom-key-value"));
}

#[tokio::test]
async fn unavailable_inbox_answers_503_never_200() {
    let endpoint = calendence();
    let ingest = Ingest::new(endpoint.clone(), Arc::new(DownInbox));
    let (headers, _) = signed_request(&endpoint, BOOKING.as_bytes());
    let refused = ingest.receive("POST", &headers, None, BOOKING.into()).await;
    assert_eq!(refused.status(), 503);
    let response = refused.response();
    assert_eq!(response.retry_after, Some(5));
    assert!(response.body.contains("inbox_unavailable"));
    assert!(!response.body.contains("connection refused"));
    assert_eq!(refused.id(), None);
}

#[tokio::test]
async fn rejected_requests_store_nothing() {
    let endpoint = calendence();
    let inbox = Arc::new(MemoryInbox::new());
    let ingest = Ingest::new(endpoint.clone(), inbox.clone());
    let (headers, _) = signed_request(&endpoint, BOOKING.as_bytes());
    let tampered = BOOKING.replace("b-1", "b-2");
    let cases = [
        ("POST", tampered.as_str(), 401),
        ("GET", BOOKING, 405),
        ("POST", "not json", 401),
    ];
    for (method, body, status) in cases {
        let report = ingest
            .receive(method, &headers, None, body.to_owned().into())
            .await;
        assert_eq!(report.status(), status, "{method} {body}");
    }
    let (signed, _) = signed_request(&endpoint, b"not json");
    let malformed = ingest
        .receive("POST", &signed, None, "not json".into())
        .await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(inbox.count(&Filter::default()).await.unwrap(), 0);
}
