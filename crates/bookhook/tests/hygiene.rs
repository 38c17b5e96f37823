//! Secret hygiene: no secret, computed MAC or body in `Debug`, error messages,
//! response bodies or logs.
#![cfg(feature = "testing")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use bookhook::testing::signed_request;
use bookhook::{
    Context, Dispatcher, Endpoint, HandlerError, Provider, Request, Secret, VerifyError,
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
