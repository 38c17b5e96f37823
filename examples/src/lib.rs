//! Shared helpers for the runnable examples: secrets from the environment,
//! the listening address, a ready-to-paste signed `curl` command, graceful
//! shutdown, a sink that handlers write to, and sample bodies.

/// Every example server allocates with mimalloc rather than the system
/// allocator. A receiver allocates and frees many small objects on whichever
/// worker thread runs the request; glibc's allocator spent about a fifth of
/// the `eagenda_axum` server's time under load (see `BENCHMARKS.md`). The
/// library does not pick an allocator: this is one line in your own binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use bookhook_axum::Endpoint;
use bookhook_axum::bookhook::testing::signed_request;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The variable that overrides an example's listening address.
pub const ADDR_VAR: &str = "BOOKHOOK_ADDR";

/// The variable that, set to anything but empty or `0`, stops handlers from
/// printing each delivery (the load harness sets it: printing every request
/// to a terminal would be what it measures).
pub const QUIET_VAR: &str = "BOOKHOOK_QUIET";

/// Whether [`QUIET_VAR`] is set, read once.
pub fn quiet() -> bool {
    static QUIET: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        std::env::var(QUIET_VAR).is_ok_and(|value| !value.is_empty() && value != "0")
    });
    *QUIET
}

/// The secret in `var`, or `development` when it is unset or empty.
///
/// The fallback is announced on standard error, so that nobody runs a
/// development secret in production without seeing it.
pub fn secret_from_env(var: &str, development: &str) -> String {
    match std::env::var(var) {
        Ok(secret) if !secret.is_empty() => secret,
        _ => {
            eprintln!("{var} is not set: using the development secret `{development}`");
            development.to_owned()
        }
    }
}

/// The address to listen on: `BOOKHOOK_ADDR`, else `default`.
pub fn listen_addr(default: &str) -> Result<SocketAddr, std::net::AddrParseError> {
    match std::env::var(ADDR_VAR) {
        Ok(addr) if !addr.is_empty() => addr.parse(),
        _ => default.parse(),
    }
}

/// A `curl` command that sends `body` to `http://{addr}{path}`, signed for
/// `endpoint` as its platform would sign it now.
pub fn curl_command(endpoint: &Endpoint, addr: SocketAddr, path: &str, body: &str) -> String {
    let (headers, query) = signed_request(endpoint, body.as_bytes());
    let url = match query {
        Some(query) => format!("http://{addr}{path}?{query}"),
        None => format!("http://{addr}{path}"),
    };
    let mut command = format!("curl -i -X POST {}", shell_quote(&url));
    for (name, value) in headers {
        command.push_str(" \\\n  -H ");
        command.push_str(&shell_quote(&format!("{name}: {value}")));
    }
    command.push_str(" \\\n  --data-binary ");
    command.push_str(&shell_quote(body));
    command
}

/// Prints [`curl_command`] with a short explanation.
pub fn print_curl(endpoint: &Endpoint, addr: SocketAddr, path: &str, body: &str) {
    println!(
        "Send a signed {} test event (a second send is a duplicate and runs no handler):\n{}\n",
        endpoint.provider(),
        curl_command(endpoint, addr, path, body)
    );
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Serves `app` on `addr` with `bookhook_axum::serve`'s limits (header,
/// body, idle and shutdown timeouts, connection and delivery caps) until
/// SIGINT or SIGTERM; requests in progress then get 30 s, and a second
/// signal exits at once.
pub async fn serve(app: Router, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    bookhook_axum::serve(listener, app)
        .header_timeout(bookhook_axum::DEFAULT_HEADER_TIMEOUT)
        .idle_timeout(bookhook_axum::DEFAULT_IDLE_TIMEOUT)
        .max_connections(bookhook_axum::DEFAULT_MAX_CONNECTIONS)
        .grace(bookhook_axum::DEFAULT_GRACE)
        .with_graceful_shutdown(async {
            bookhook_axum::shutdown_signal().await;
            println!("Shutting down");
        })
        .await
}

/// Where handlers write what they did: printed, and kept (the last
/// [`Sink::KEEP`] lines) so tests can read it back.
#[derive(Debug, Clone, Default)]
pub struct Sink {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl Sink {
    /// How many lines are kept.
    pub const KEEP: usize = 100;

    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prints `line` (unless [`quiet`]) and keeps it.
    pub fn say(&self, line: impl Into<String>) {
        let line = line.into();
        if !quiet() {
            println!("{line}");
        }
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == Self::KEEP {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect()
    }
}

/// Sends `body` to `path` on `app`, signed for `endpoint`, without a socket,
/// and returns the status and the response body. For the examples' tests.
pub async fn send_signed(
    app: &Router,
    endpoint: &Endpoint,
    path: &str,
    body: &str,
) -> (u16, String) {
    let (headers, query) = signed_request(endpoint, body.as_bytes());
    let uri = match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut request = http::Request::post(uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = match request.body(Body::from(body.to_owned())) {
        Ok(request) => request,
        Err(err) => return (0, format!("invalid request: {err}")),
    };
    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let bytes = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => return (status, format!("unreadable body: {err}")),
    };
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Sample bodies, shaped like each platform's documented payloads.
pub mod samples {
    /// eAgenda `appointment.created`.
    pub const EAGENDA_CREATED: &str = r#"{"event":"appointment.created","timestamp":"2026-06-04T14:30:00-03:00","data":{"appointment_key":"apt12345-1234-5678-9abc-def012345678","search_code":"AGD-2026-001234","status":"CONFIRMED","start_date":"2026-06-10T09:00:00-03:00","calendar":{"calendar_key":"abc12345","name":"Dr. Silva's Office"},"person":{"full_name":"John Smith","email":"john@example.com"}}}"#;
    /// eAgenda `appointment.canceled`.
    pub const EAGENDA_CANCELED: &str = r#"{"event":"appointment.canceled","timestamp":"2026-06-05T10:00:00-03:00","data":{"appointment_key":"apt12345-1234-5678-9abc-def012345678","search_code":"AGD-2026-001234","status":"CANCELED","start_date":"2026-06-10T09:00:00-03:00","person":{"full_name":"John Smith","email":"john@example.com"}}}"#;
    /// MonCréneau `appointment.created`.
    pub const MONCRENEAU_CREATED: &str = r#"{"id":"evt_abc123","type":"appointment.created","created":"2026-01-21T14:30:00Z","data":{"object":{"id":12345,"departmentId":5,"department":{"id":5,"name":"Passport Service"},"dateTime":"2026-01-25T14:30:00","status":"SCHEDULED","name":"Jean Dupont","phone":"+224621234567","email":"jean.dupont@example.gn","createdAt":"2026-01-21T14:30:00Z","creditsUsed":1}}}"#;
    /// MonCréneau `appointment.cancelled`.
    pub const MONCRENEAU_CANCELLED: &str = r#"{"id":"evt_ghi789","type":"appointment.cancelled","created":"2026-01-23T16:45:00Z","data":{"object":{"id":12345,"departmentId":5,"dateTime":"2026-01-25T14:30:00","status":"CANCELLED","name":"Jean Dupont","phone":"+224621234567","cancelledAt":"2026-01-23T16:45:00Z","cancelledBy":"user","cancelReason":"Last minute impediment","creditsRefunded":1}}}"#;
    /// MonCréneau `appointment.validated`.
    pub const MONCRENEAU_VALIDATED: &str = r#"{"id":"evt_jkl012","type":"appointment.validated","created":"2026-01-25T14:35:00Z","data":{"object":{"id":12345,"departmentId":5,"dateTime":"2026-01-25T14:30:00","status":"VALIDATED","name":"Jean Dupont","phone":"+224621234567","validatedAt":"2026-01-25T14:35:00Z","validatedBy":{"id":42,"name":"Agent Martin"}}}}"#;
    /// MonCréneau `appointment.completed`, which the example routes to no handler.
    pub const MONCRENEAU_COMPLETED: &str = r#"{"id":"evt_mno345","type":"appointment.completed","created":"2026-01-25T15:00:00Z","data":{"object":{"id":12345,"departmentId":5,"dateTime":"2026-01-25T14:30:00","status":"COMPLETED","name":"Jean Dupont","completedAt":"2026-01-25T15:00:00Z","duration":30,"notes":"Document issued"}}}"#;
    /// Orufy Bookings `BOOK`.
    pub const ORUFY_BOOK: &str = r#"{"eventType":"BOOK","meetData":{"_id":"665f1c","time":"2026-07-01T10:00:00.000Z","duration":45,"status":"CONFIRMED","attendees":[{"name":"Maya Roy","email":"maya@example.com"}],"updatedAt":"2026-06-28T09:00:00.000Z"}}"#;
    /// Orufy Bookings `CANCEL`.
    pub const ORUFY_CANCEL: &str = r#"{"eventType":"CANCEL","meetData":{"_id":"665f1c","time":"2026-07-01T10:00:00.000Z","duration":45,"status":"CANCELLED","attendees":[{"name":"Maya Roy","email":"maya@example.com"}],"cancellation":{"timestamp":"2026-06-30T08:00:00.000Z","reason":"ill"}}}"#;
    /// Calendence `booking.created`.
    pub const CALENDENCE_CREATED: &str = r#"{"event":"booking.created","timestamp":"2026-03-24T14:30:00+00:00","data":{"id":"b-1001","status":"confirmed","client":{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"},"starts_at":"2026-03-25T14:00:00+00:00","ends_at":"2026-03-25T14:30:00+00:00"}}"#;
    /// Calendence `booking.cancelled`.
    pub const CALENDENCE_CANCELLED: &str = r#"{"event":"booking.cancelled","timestamp":"2026-03-24T16:00:00+00:00","data":{"id":"b-1001","status":"cancelled","client":{"first_name":"Jane","last_name":"Doe","email":"jane@example.com"},"starts_at":"2026-03-25T14:00:00+00:00","ends_at":"2026-03-25T14:30:00+00:00"}}"#;
    /// Decoda Health `APPOINTMENT_SCHEDULED`.
    pub const DECODA_SCHEDULED: &str = r#"{"id":"evt_d1","alertId":"alert_d1","type":"APPOINTMENT_SCHEDULED","createdDate":"2026-05-01T12:00:00Z","data":{"id":"a-77","start_time":"2026-05-02T09:00:00-04:00","end_time":"2026-05-02T09:30:00-04:00","patient_id":"p-1","patient":{"first_name":"Ann","last_name":"Lee","phone_number":"+15555550100"}}}"#;
    /// Decoda Health `APPOINTMENT_CANCELLED`.
    pub const DECODA_CANCELLED: &str = r#"{"id":"evt_d2","alertId":"alert_d2","type":"APPOINTMENT_CANCELLED","createdDate":"2026-05-01T15:00:00Z","data":{"id":"a-77","status":"cancelled","start_time":"2026-05-02T09:00:00-04:00","end_time":"2026-05-02T09:30:00-04:00","patient_id":"p-1","patient":{"first_name":"Ann","last_name":"Lee","phone_number":"+15555550100"}}}"#;
}

/// The Rust snippets of the repository's README and of each crate's README,
/// compiled and run as doctests so that they cannot drift from the code.
#[cfg(doctest)]
pub mod readme {
    #[doc = include_str!("../../README.md")]
    pub mod repository {}
    #[doc = include_str!("../../crates/bookhook/README.md")]
    pub mod bookhook {}
    #[doc = include_str!("../../crates/bookhook-axum/README.md")]
    pub mod bookhook_axum {}
    #[doc = include_str!("../../crates/bookhook-actix/README.md")]
    pub mod bookhook_actix {}
    #[doc = include_str!("../../crates/bookhook-redis/README.md")]
    pub mod bookhook_redis {}
    #[doc = include_str!("../../crates/bookhook-cli/README.md")]
    pub mod bookhook_cli {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_axum::bookhook::{Delivery, endpoint::NoHeaders};
    use bookhook_axum::{Kind, Provider};

    #[test]
    fn samples_parse_as_their_kind() {
        let cases = [
            (Provider::Eagenda, samples::EAGENDA_CREATED, Kind::Created),
            (
                Provider::Eagenda,
                samples::EAGENDA_CANCELED,
                Kind::Cancelled,
            ),
            (
                Provider::Moncreneau,
                samples::MONCRENEAU_CREATED,
                Kind::Created,
            ),
            (
                Provider::Moncreneau,
                samples::MONCRENEAU_CANCELLED,
                Kind::Cancelled,
            ),
            (
                Provider::Moncreneau,
                samples::MONCRENEAU_VALIDATED,
                Kind::CheckedIn,
            ),
            (
                Provider::Moncreneau,
                samples::MONCRENEAU_COMPLETED,
                Kind::Completed,
            ),
            (Provider::Orufy, samples::ORUFY_BOOK, Kind::Created),
            (Provider::Orufy, samples::ORUFY_CANCEL, Kind::Cancelled),
            (
                Provider::Calendence,
                samples::CALENDENCE_CREATED,
                Kind::Created,
            ),
            (
                Provider::Calendence,
                samples::CALENDENCE_CANCELLED,
                Kind::Cancelled,
            ),
            (Provider::Decoda, samples::DECODA_SCHEDULED, Kind::Created),
            (Provider::Decoda, samples::DECODA_CANCELLED, Kind::Cancelled),
        ];
        for (provider, body, kind) in cases {
            let delivery = Delivery::parse(provider, &NoHeaders, body.as_bytes().to_vec().into())
                .unwrap_or_else(|err| panic!("{provider}: {err}"));
            assert_eq!(delivery.kind(), kind, "{provider}: {body}");
            let appointment = delivery.appointment().expect("an appointment");
            assert!(appointment.attendee.name.is_some(), "{provider}: attendee");
        }
    }

    #[test]
    fn curl_command_is_signed_and_quoted() {
        let endpoint = Endpoint::builder(Provider::Calendence)
            .secret("s3cr3t")
            .build()
            .unwrap();
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let command = curl_command(&endpoint, addr, "/webhook/calendence", r#"{"a":"it's"}"#);
        assert!(command.starts_with("curl -i -X POST 'http://127.0.0.1:5000/webhook/calendence'"));
        assert!(
            command.contains("-H 'X-Calendence-Signature: sha256="),
            "{command}"
        );
        assert!(
            command.ends_with(r#"--data-binary '{"a":"it'\''s"}'"#),
            "{command}"
        );
    }

    #[test]
    fn sink_keeps_the_last_lines() {
        let sink = Sink::new();
        for i in 0..Sink::KEEP + 2 {
            sink.say(format!("line {i}"));
        }
        let lines = sink.lines();
        assert_eq!(lines.len(), Sink::KEEP);
        assert_eq!(lines[0], "line 2");
    }
}
