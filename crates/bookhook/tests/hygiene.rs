//! Secret hygiene: no secret, computed MAC or body in `Debug`, error messages,
//! response bodies or logs.
#![cfg(feature = "testing")]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bookhook::testing::conformance::{self, Conformance, DownStore};
use bookhook::testing::signed_request;
use bookhook::{
    Context, Delivery, Dispatcher, Endpoint, HandlerError, Outcome, Provider,
    endpoint::{Finished, ManualClock, NoHeaders, Rejection, Request},
    provider::hmac::HmacEnvelope,
    signature::{
        Encoding, HmacScheme, Scheme, Secret, SignRequest, Signed, StandardScheme, TokenScheme,
        Verifier, VerifyError,
    },
};

const SECRET: &str = "hygiene-secret-value-7f3a";
const BODY_MARKER: &str = "body-marker-patient-Q9";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn body(event: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"{event}","timestamp":"2026-03-24T14:30:00+00:00","data":{{"id":"h-1","client":{{"first_name":"{BODY_MARKER}"}}}}}}"#
    )
    .into_bytes()
}

fn assert_clean(text: &str, mac: &str, what: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    assert!(!text.contains(mac), "{what} shows the computed MAC: {text}");
    assert!(!text.contains(BODY_MARKER), "{what} shows the body: {text}");
}

#[tokio::test]
async fn no_secret_mac_or_body_reaches_logs_responses_or_debug() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .unwrap();
    let dispatcher = Dispatcher::builder(endpoint.clone())
        .on("booking.created", |_ctx: Context| async {
            Ok::<_, HandlerError>(())
        })
        .on("booking.cancelled", |_ctx: Context| async {
            Err(HandlerError::new("the handler failed"))
        })
        .build()
        .unwrap();

    let created = body("booking.created");
    let (headers, _) = signed_request(&endpoint, &created);
    let mac = headers
        .iter()
        .find(|(name, _)| name == "X-Calendence-Signature")
        .map(|(_, value)| value.trim_start_matches("sha256=").to_owned())
        .unwrap();

    let mut texts = Vec::new();
    // handled, duplicate, failed, tampered, malformed
    for (headers, payload) in [
        (headers.clone(), created.clone()),
        (headers.clone(), created.clone()),
        (
            signed_request(&endpoint, &body("booking.cancelled")).0,
            body("booking.cancelled"),
        ),
        (headers.clone(), body("booking.updated")),
        (
            signed_request(&endpoint, BODY_MARKER.as_bytes()).0,
            BODY_MARKER.as_bytes().to_vec(),
        ),
    ] {
        let finished = dispatcher
            .dispatch(Request::post(&headers, payload.into()))
            .await;
        texts.push(("response body", finished.response().body));
        texts.push(("outcome debug", format!("{:?}", finished.outcome())));
    }
    texts.push(("endpoint debug", format!("{endpoint:?}")));
    texts.push(("dispatcher debug", format!("{dispatcher:?}")));
    texts.push(("secret debug", format!("{:?}", Secret::new(SECRET))));
    texts.push(("verify error", VerifyError::InvalidSignature.to_string()));
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("webhook delivery"),
        "deliveries are logged: {logs}"
    );
    texts.push(("logs", logs));

    for (what, text) in &texts {
        assert_clean(text, &mac, what);
    }
}

/// A value an attacker puts where a signature, timestamp or token goes.
const ATTACKER: &str = "attacker-marker-5e1d";
/// Another secret: a sender that signs with the wrong one.
const OTHER_SECRET: &str = "other-secret-value-c20b";
/// The tests' clock: 2026-03-24T14:30:00Z.
const NOW: u64 = 1_774_362_600;

/// Captures everything logged at any level while it is the default subscriber.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// What must never be shown, each with a label for the failure message.
#[derive(Default)]
struct Forbidden(Vec<(String, String)>);

impl Forbidden {
    fn add(&mut self, what: &str, value: &str) {
        let value = value.trim_end_matches('=');
        if !value.is_empty() {
            self.0.push((what.to_owned(), value.to_owned()));
        }
    }

    /// The secret-derived parts of signed headers and query: MACs (without
    /// prefixes, in both cases of hex), `v1,` signatures and tokens.
    fn add_signed(&mut self, what: &str, headers: &[(String, String)], query: Option<&str>) {
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            if !name.contains("signature") && name != "authorization" {
                continue;
            }
            for piece in value.split([',', ' ']) {
                let piece = piece
                    .trim_start_matches("sha256=")
                    .trim_start_matches("SHA256=")
                    .trim_start_matches("v1,");
                // Scheme words (`v1`, `Bearer`) are short and public; MACs
                // and tokens are long. Hex may be shown in either case.
                if piece.len() >= 16 {
                    self.add(what, piece);
                    self.add(what, &piece.to_ascii_uppercase());
                }
            }
        }
        if let Some(query) = query {
            self.add(what, query.split_once('=').map_or(query, |(_, v)| v));
        }
    }

    fn check(&self, texts: &[(String, String)]) {
        assert!(!self.0.is_empty());
        for (where_, text) in texts {
            for (what, value) in &self.0 {
                assert!(
                    !text.contains(value.as_str()),
                    "{where_} shows {what} ({value}): {text}"
                );
            }
        }
    }
}

/// `Display` and `Debug` of an outcome and of every error inside it, and the
/// response body.
fn outcome_texts(label: &str, finished: &Finished, texts: &mut Vec<(String, String)>) {
    let outcome = finished.outcome();
    let mut push = |kind: &str, text: String| texts.push((format!("{label}: {kind}"), text));
    push("response body", finished.response().body);
    push("outcome debug", format!("{outcome:?}"));
    push("finished debug", format!("{finished:?}"));
    push("delivery debug", format!("{:?}", finished.delivery()));
    match outcome {
        Outcome::Rejected(rejection) => {
            push("rejection display", rejection.to_string());
            push("rejection debug", format!("{rejection:?}"));
            match rejection {
                Rejection::Unauthorized(err) => {
                    push("verify error display", err.to_string());
                    push("verify error debug", format!("{err:?}"));
                }
                Rejection::Malformed(err) => {
                    push("parse error display", err.to_string());
                    push("parse error debug", format!("{err:?}"));
                }
                _ => {}
            }
        }
        Outcome::Failed(err) => {
            push("handler error display", err.to_string());
            push("handler error debug", format!("{err:?}"));
        }
        Outcome::StoreUnavailable(err) => {
            push("store error display", err.to_string());
            push("store error debug", format!("{err:?}"));
        }
        _ => {}
    }
}

fn generic_body(id: &str) -> Vec<u8> {
    serde_json::json!({
        "type": "booking.created",
        "id": id,
        "timestamp": "2026-03-24T14:30:00Z",
        "client": {"email": BODY_MARKER},
    })
    .to_string()
    .into_bytes()
}

fn at(secs: u64) -> SignRequest {
    SignRequest::at(UNIX_EPOCH + Duration::from_secs(secs)).with_id("msg_hygiene")
}

type HeaderList = Vec<(String, String)>;

/// One scheme under test.
struct Case {
    label: &'static str,
    scheme: Scheme,
    secret: String,
    /// Whether it signs a timestamp (so an old one is refused).
    timed: bool,
    /// Whether it covers the body (a token does not).
    signs_body: bool,
}

/// Every scheme, keyed with `secret` (Standard Webhooks: `whsec_` + base64).
fn schemes(secret: &str) -> Vec<Case> {
    let case = |label, scheme: Scheme, secret: String, timed, signs_body| Case {
        label,
        scheme,
        secret,
        timed,
        signs_body,
    };
    vec![
        case(
            "hmac hex",
            HmacScheme::new("X-Signature").prefix("sha256=").into(),
            secret.to_owned(),
            false,
            true,
        ),
        case(
            "hmac base64",
            HmacScheme::new("X-Signature")
                .encoding(Encoding::Base64)
                .into(),
            secret.to_owned(),
            false,
            true,
        ),
        case(
            "hmac over body and timestamp",
            HmacScheme::new("X-Signature")
                .signed_timestamp("X-Timestamp", Duration::from_secs(120))
                .into(),
            secret.to_owned(),
            true,
            true,
        ),
        case(
            "standard webhooks",
            StandardScheme::new().into(),
            format!("whsec_{}", BASE64.encode(secret)),
            true,
            true,
        ),
        case(
            "token header",
            TokenScheme::bearer().into(),
            secret.to_owned(),
            false,
            false,
        ),
        case(
            "token query",
            TokenScheme::query("token").into(),
            secret.to_owned(),
            false,
            false,
        ),
    ]
}

fn request_of(signed: &Signed) -> (Vec<(String, String)>, Option<String>) {
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(signed.headers.iter().cloned());
    (headers, signed.query.clone())
}

#[tokio::test]
async fn failing_verifications_of_every_scheme_leak_nothing() {
    let (captured, _guard) = capture();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut forbidden = Forbidden::default();
    forbidden.add("the secret", SECRET);
    forbidden.add("the other secret", OTHER_SECRET);
    forbidden.add("the body", BODY_MARKER);
    forbidden.add("the attacker's value", ATTACKER);

    let others = schemes(OTHER_SECRET);
    for (case, other) in schemes(SECRET).into_iter().zip(others) {
        let Case {
            label,
            scheme,
            secret,
            timed,
            signs_body,
        } = case;
        let other_secret = other.secret;
        forbidden.add("the secret", &secret);
        forbidden.add("the other secret", &other_secret);
        let clock = ManualClock::at_unix(NOW);
        let endpoint = Endpoint::builder(Provider::Hmac)
            .scheme(scheme.clone())
            .secret(secret.as_str())
            .clock(clock)
            .build()
            .unwrap();
        let dispatcher = Dispatcher::builder(endpoint.clone())
            .on("booking.created", |_ctx: Context| async {
                Ok::<_, HandlerError>(())
            })
            .build()
            .unwrap();
        let verifier = Verifier::new(scheme.clone(), [secret.as_str()]).unwrap();
        let wrong = Verifier::new(scheme, [other_secret.as_str()]).unwrap();

        let body = generic_body("h-1");
        let tampered = generic_body("h-2");
        let signed = verifier.sign(&body, &at(NOW));
        let signed_tampered = verifier.sign(&tampered, &at(NOW));
        let signed_wrong = wrong.sign(&body, &at(NOW));
        let signed_old = verifier.sign(&body, &at(NOW - 3600));
        for (what, s) in [
            ("a computed mac", &signed),
            ("a computed mac", &signed_tampered),
            ("a wrong mac", &signed_wrong),
            ("a computed mac", &signed_old),
        ] {
            forbidden.add_signed(what, &s.headers, s.query.as_deref());
        }

        let (headers, query) = request_of(&signed);
        let attacker_headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| {
                let value = if name == "Content-Type" {
                    value.clone()
                } else {
                    ATTACKER.to_owned()
                };
                (name.clone(), value)
            })
            .collect();
        let repeated: Vec<(String, String)> =
            headers.iter().chain(&signed.headers).cloned().collect();
        let (wrong_headers, wrong_query) = request_of(&signed_wrong);
        let (old_headers, old_query) = request_of(&signed_old);
        let attacker_query = query.as_ref().map(|_| format!("token={ATTACKER}"));

        let mut failures: Vec<(&str, HeaderList, Option<String>, Vec<u8>)> = vec![
            ("wrong secret", wrong_headers, wrong_query, body.clone()),
            (
                "attacker values",
                attacker_headers,
                attacker_query,
                body.clone(),
            ),
            ("nothing signed", Vec::new(), None, body.clone()),
        ];
        if signs_body {
            failures.push(("tampered body", headers.clone(), query.clone(), tampered));
        }
        if !signed.headers.is_empty() {
            failures.push(("repeated headers", repeated, query.clone(), body.clone()));
        }
        if timed {
            failures.push(("stale timestamp", old_headers, old_query, body.clone()));
        }
        for (case, headers, query, payload) in &failures {
            let request =
                Request::post(headers, payload.clone().into()).with_query(query.as_deref());
            let direct = verifier.verify_at(&request, UNIX_EPOCH + Duration::from_secs(NOW));
            let err = direct.expect_err(case);
            texts.push((format!("{label}, {case}: display"), err.to_string()));
            texts.push((format!("{label}, {case}: debug"), format!("{err:?}")));
            texts.push((format!("{label}, {case}: request"), format!("{request:?}")));
            let finished = dispatcher.dispatch(request).await;
            assert_eq!(finished.status(), 401, "{label}, {case}");
            outcome_texts(&format!("{label}, {case}"), &finished, &mut texts);
        }
        // The authentic request, twice: handled, then duplicate.
        for expected in ["handled", "duplicate"] {
            let finished = dispatcher
                .dispatch(Request::post(&headers, body.clone().into()).with_query(query.as_deref()))
                .await;
            assert_eq!(finished.outcome().as_str(), expected, "{label}");
            outcome_texts(&format!("{label}, {expected}"), &finished, &mut texts);
        }
        texts.push((format!("{label}: verifier"), format!("{verifier:?}")));
        texts.push((format!("{label}: signed"), format!("{signed:?}")));
        texts.push((format!("{label}: endpoint"), format!("{endpoint:?}")));
        texts.push((format!("{label}: dispatcher"), format!("{dispatcher:?}")));
    }
    let logs = captured.text();
    assert!(logs.contains("webhook delivery rejected"), "{logs}");
    texts.push(("logs".to_owned(), logs));
    forbidden.check(&texts);
}

#[tokio::test]
async fn every_error_type_from_real_failures_leaks_nothing() {
    let (captured, _guard) = capture();
    let mut texts: Vec<(String, String)> = Vec::new();

    // Configuration errors about a secret never show it.
    let config_errors = [
        Verifier::new(StandardScheme::new(), [format!("whsec_{SECRET}!")]).unwrap_err(),
        Verifier::new(TokenScheme::bearer(), [format!("{SECRET}\n")]).unwrap_err(),
        Verifier::new(TokenScheme::bearer(), [format!(" {SECRET}")]).unwrap_err(),
        Verifier::new(HmacScheme::new("X-Signature"), [SECRET, ""]).unwrap_err(),
        Verifier::new(Scheme::Unverified, [SECRET]).unwrap_err(),
        Endpoint::builder(Provider::Standard)
            .secret(format!("whsec_{SECRET}"))
            .build()
            .unwrap_err(),
    ];
    for err in &config_errors {
        texts.push(("config error display".into(), err.to_string()));
        texts.push(("config error debug".into(), format!("{err:?}")));
    }

    // Parse errors of authentic bodies never show the body.
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(SECRET)
        .build()
        .unwrap();
    let generic = Endpoint::builder(Provider::Hmac)
        .scheme(HmacScheme::new("X-Signature"))
        .envelope(
            HmacEnvelope::builder()
                .type_pointer("/meta/name")
                .build()
                .unwrap(),
        )
        .secret(SECRET)
        .build()
        .unwrap();
    let bodies: [(&Endpoint, String); 6] = [
        (
            &endpoint,
            format!(r#"{{"timestamp":"{BODY_MARKER}","data":{{}}}}"#),
        ),
        (&endpoint, format!(r#"{{"event": {BODY_MARKER}"#)),
        (
            &endpoint,
            format!(
                r#"{{"event":"booking.created","timestamp":"{BODY_MARKER}","data":{{"id":"x"}}}}"#
            ),
        ),
        (
            &endpoint,
            format!(r#"{{"event":["{BODY_MARKER}"],"data":{{"id":"x"}}}}"#),
        ),
        (&endpoint, format!(r#"["{BODY_MARKER}"]"#)),
        // Not a JSON object (a body with no type at all is delivered).
        (&generic, format!(r#"["{BODY_MARKER}",{{"meta":{{}}}}]"#)),
    ];
    for (endpoint, body) in bodies {
        let (headers, query) = signed_request(endpoint, body.as_bytes());
        let direct = Delivery::parse(
            endpoint.provider(),
            &NoHeaders,
            body.clone().into_bytes().into(),
        );
        if endpoint.provider() == Provider::Calendence {
            let err = direct.expect_err(&body);
            texts.push(("parse error display".into(), err.to_string()));
            texts.push(("parse error debug".into(), format!("{err:?}")));
        }
        let dispatcher = Dispatcher::builder(endpoint.clone()).build().unwrap();
        let finished = dispatcher
            .dispatch(
                Request::post(&headers, body.into_bytes().into()).with_query(query.as_deref()),
            )
            .await;
        assert_eq!(finished.status(), 400, "{finished:?}");
        outcome_texts("parse", &finished, &mut texts);
    }

    // Store and handler errors, from a store that is down (closed and open)
    // and from handlers that fail or panic.
    for fail_open in [false, true] {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret(SECRET)
            .store(DownStore)
            .fail_open(fail_open)
            .build()
            .unwrap();
        let dispatcher = Dispatcher::builder(endpoint.clone())
            .on("booking.created", |_ctx: Context| async {
                Err(HandlerError::new("the handler failed"))
            })
            .on("booking.cancelled", |_ctx: Context| async {
                panic!("the handler panicked");
                #[allow(unreachable_code)]
                Ok::<_, HandlerError>(())
            })
            .build()
            .unwrap();
        for event in ["booking.created", "booking.cancelled", "booking.completed"] {
            let payload = body(event);
            let (headers, _) = signed_request(&endpoint, &payload);
            let finished = dispatcher
                .dispatch(Request::post(&headers, payload.into()))
                .await;
            assert!(finished.status() >= 500 || fail_open, "{finished:?}");
            outcome_texts(
                &format!("fail open {fail_open}, {event}"),
                &finished,
                &mut texts,
            );
        }
    }

    let logs = captured.text();
    assert!(logs.contains("store unavailable"), "{logs}");
    assert!(logs.contains("handler failed"), "{logs}");
    texts.push(("logs".into(), logs));
    let mut forbidden = Forbidden::default();
    forbidden.add("the secret", SECRET);
    forbidden.add("the body", BODY_MARKER);
    forbidden.check(&texts);
}

#[tokio::test]
async fn every_outcome_of_the_conformance_table_leaks_nothing() {
    let (captured, _guard) = capture();
    let conformance = Conformance::new().await;
    let mut forbidden = Forbidden::default();
    forbidden.add("the secret", conformance::SECRET);
    forbidden.add("the standard webhooks secret", conformance::STANDARD_SECRET);
    forbidden.add("personal data from the body", conformance::ATTENDEE_EMAIL);
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut outcomes = std::collections::BTreeSet::new();
    for case in &conformance.cases {
        forbidden.add_signed("a mac", &case.headers, case.query.as_deref());
        let finished = conformance.dispatch(case).await;
        let outcome = finished.outcome();
        outcomes.insert(match outcome {
            Outcome::Rejected(rejection) => format!("rejected: {}", rejection.code()),
            Outcome::Failed(HandlerError::Panicked { .. }) => "panicked".to_owned(),
            other => other.as_str().to_owned(),
        });
        outcome_texts(case.name, &finished, &mut texts);
    }
    // What only an adapter reports: a body that could not be read.
    for mount in &conformance.mounts {
        let finished = mount
            .dispatcher
            .endpoint()
            .reject(Rejection::IncompleteBody);
        outcome_texts("incomplete body", &finished, &mut texts);
        texts.push(("dispatcher".into(), format!("{:?}", mount.dispatcher)));
    }
    for expected in [
        "handled",
        "duplicate",
        "unrouted",
        "in_flight",
        "failed",
        "panicked",
        "unavailable",
        "rejected: payload_too_large",
        "rejected: method_not_allowed",
        "rejected: invalid_signature",
        "rejected: stale_timestamp",
        "rejected: malformed_payload",
    ] {
        assert!(
            outcomes.contains(expected),
            "{expected} not covered: {outcomes:?}"
        );
    }
    let logs = captured.text();
    assert!(logs.contains("incomplete body"), "{logs}");
    texts.push(("logs".into(), logs));
    forbidden.check(&texts);
}
