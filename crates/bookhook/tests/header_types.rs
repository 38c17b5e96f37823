//! GitHub- and Shopify-shaped requests, signed outside the project (see
//! `produced_by` in `fixtures/header_types.json`): the `hmac` provider with a
//! type header delivers each one with the type its header names, and a body
//! with no type anywhere is delivered too, never refused.

use std::sync::{Arc, Mutex};

use bookhook::{
    Context, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider,
    endpoint::{ManualClock, Request},
    idempotency::MemoryStore,
    signature::{Encoding, HmacScheme},
};
use serde::Deserialize;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/header_types.json");

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret: String,
    scheme: SchemeSpec,
    body: String,
    headers: Vec<(String, String)>,
    event_type: String,
    idempotency_key: String,
    produced_by: String,
}

#[derive(Deserialize)]
struct SchemeSpec {
    header: String,
    prefix: Option<String>,
    encoding: String,
    type_header: String,
}

fn load() -> Vec<Vector> {
    let text = std::fs::read_to_string(FIXTURES).expect("fixture file is readable");
    let file: File = serde_json::from_str(&text).expect("fixture file is valid");
    file.vectors
}

fn endpoint(vector: &Vector) -> Endpoint {
    let spec = &vector.scheme;
    let mut scheme = HmacScheme::new(spec.header.as_str()).encoding(match spec.encoding.as_str() {
        "hex" => Encoding::Hex,
        "base64" => Encoding::Base64,
        other => panic!("{}: unknown encoding {other}", vector.name),
    });
    if let Some(prefix) = &spec.prefix {
        scheme = scheme.prefix(prefix.as_str());
    }
    Endpoint::builder(Provider::Hmac)
        .scheme(scheme)
        .type_header(spec.type_header.as_str())
        .secret(vector.secret.as_str())
        .clock(ManualClock::at_unix(1_767_225_600))
        .store(MemoryStore::new())
        .build()
        .unwrap_or_else(|err| panic!("{}: {err}", vector.name))
}

type Seen = Arc<Mutex<Vec<(String, Kind, String)>>>;

async fn record(ctx: Context<Seen>) -> Result<(), HandlerError> {
    let delivery = ctx.delivery();
    ctx.state().lock().unwrap().push((
        delivery.event_type().to_owned(),
        delivery.kind(),
        delivery.idempotency_key().to_owned(),
    ));
    Ok(())
}

#[tokio::test]
async fn header_typed_requests_signed_elsewhere_are_delivered_with_their_header_type() {
    let vectors = load();
    assert!(vectors.len() >= 4, "too few vectors: {}", vectors.len());
    let platforms = ["X-GitHub-Event", "X-Shopify-Topic"];
    for platform in platforms {
        assert!(
            vectors
                .iter()
                .any(|v| v.scheme.type_header == platform && !v.event_type.is_empty()),
            "no vector with a type in {platform}"
        );
    }
    for vector in &vectors {
        assert!(
            vector.produced_by.contains("import hmac") && vector.produced_by.contains("print("),
            "{}: record the snippet that produced the signature",
            vector.name
        );
        let seen: Seen = Arc::default();
        let dispatcher = DispatcherBuilder::new(endpoint(vector), seen.clone())
            .fallback(record)
            .build()
            .unwrap();
        let body = vector.body.clone().into_bytes();
        let finished = dispatcher
            .dispatch(Request::post(&vector.headers, body.clone().into()))
            .await;
        assert_eq!(finished.status(), 200, "{}", vector.name);
        assert_eq!(finished.outcome().as_str(), "handled", "{}", vector.name);
        assert_eq!(
            *seen.lock().unwrap(),
            [(
                vector.event_type.clone(),
                Kind::Other,
                vector.idempotency_key.clone()
            )],
            "{}",
            vector.name
        );
        // The sender's retry is recognised.
        let again = dispatcher
            .dispatch(Request::post(&vector.headers, body.into()))
            .await;
        assert_eq!(again.outcome().as_str(), "duplicate", "{}", vector.name);
    }
}

#[tokio::test]
async fn header_typed_requests_route_by_their_header_type() {
    let vector = load()
        .into_iter()
        .find(|v| v.name == "github_ping")
        .expect("the github ping vector");
    let pings = Arc::new(Mutex::new(0_u32));
    let dispatcher = DispatcherBuilder::new(endpoint(&vector), pings.clone())
        .on("ping", |ctx: Context<Arc<Mutex<u32>>>| async move {
            *ctx.state().lock().unwrap() += 1;
            Ok::<_, HandlerError>(())
        })
        .build()
        .unwrap();
    let finished = dispatcher
        .dispatch(Request::post(
            &vector.headers,
            vector.body.clone().into_bytes().into(),
        ))
        .await;
    assert_eq!(finished.outcome().as_str(), "handled");
    assert_eq!(*pings.lock().unwrap(), 1);
}

#[tokio::test]
async fn tampered_header_typed_request_is_refused() {
    for vector in load() {
        let dispatcher = DispatcherBuilder::new(endpoint(&vector), Seen::default())
            .fallback(record)
            .build()
            .unwrap();
        let mut body = vector.body.clone().into_bytes();
        body.push(b' ');
        let finished = dispatcher
            .dispatch(Request::post(&vector.headers, body.into()))
            .await;
        assert_eq!(finished.status(), 401, "{}", vector.name);
    }
}

#[test]
fn type_header_is_refused_for_providers_that_read_their_own_type() {
    let err = Endpoint::builder(Provider::Calendence)
        .secret("s")
        .type_header("X-GitHub-Event")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("type_header"), "{err}");
    let err = Endpoint::builder(Provider::Hmac)
        .scheme(HmacScheme::new("X-Hub-Signature-256"))
        .secret("s")
        .type_header("bad header")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, bookhook::ConfigError::InvalidName { .. }),
        "{err}"
    );
}
