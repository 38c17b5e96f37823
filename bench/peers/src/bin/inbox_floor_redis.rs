//! The floor of an inbox-mode Calendence receiver on Redis: what
//! acknowledging a stored event costs when written by hand, in one process,
//! with no SDK. Per request: an axum 0.8 route reads the body, verifies
//! `X-Calendence-Signature` (raw HMAC-SHA256 with `hmac` + `sha2`, compared
//! in constant time with `subtle`), parses the envelope with serde into a
//! typed struct, and runs `bookhook-redis`'s own ingest script (the same Lua
//! text, loaded once, called with `EVALSHA` through one multiplexed `redis`
//! connection), answering once Redis has executed it.
//!
//! It does not run handlers and keeps only the content type and the
//! signature's name among the headers: what bookhook's receiver does on top
//! of this is what the load harness (`bench/inbox.sh`, targets e and f)
//! measures.
//!
//! ```text
//! BOOKHOOK_ADDR         listening address (default 127.0.0.1:18096)
//! BOOKHOOK_INBOX        the Redis URL (default redis://127.0.0.1:6379)
//! BOOKHOOK_INBOX_PREFIX the key prefix (default bookhook-floor:)
//! CALENDENCE_SECRET     the signing secret (default calendence-development-secret)
//! ```

/// The same allocator as bookhook's example servers (`bookhook-examples`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use bookhook_bench_peers::{accept, reply};
use hmac::{Hmac, Mac};
use redis::Script;
use redis::aio::ConnectionManager;
use sha2::Sha256;

const PATH: &str = "/webhook/calendence";

/// `bookhook-redis`'s ingest script, exactly as the library loads it: its
/// shared helpers, then the script itself.
const HELPERS: &str = include_str!("../../../../crates/bookhook-redis/src/inbox/lua/helpers.lua");
const ENQUEUE: &str = include_str!("../../../../crates/bookhook-redis/src/inbox/lua/enqueue.lua");

struct App {
    /// The HMAC key state, prepared once and cloned per request.
    mac: Hmac<Sha256>,
    redis: ConnectionManager,
    script: Script,
    prefix: String,
}

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let envelope = match accept(&app.mac, &headers, &body) {
        Ok(envelope) => envelope,
        Err(refused) => return refused,
    };
    let key = envelope.key();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut invocation = app.script.prepare_invoke();
    invocation
        .arg(&app.prefix)
        .arg("calendence")
        .arg(&key)
        .arg("1")
        .arg(&envelope.data.id)
        .arg("calendence")
        .arg(&envelope.event)
        .arg(kind(&envelope.event))
        .arg(now.to_string())
        .arg("0")
        .arg("0")
        .arg(payload(&body));
    let mut redis = app.redis.clone();
    match invocation.invoke_async::<(i64, String)>(&mut redis).await {
        Ok((1, id)) => reply(
            StatusCode::OK,
            format!(r#"{{"status":"queued","id":{id}}}"#),
        ),
        Ok(_) => reply(StatusCode::OK, r#"{"status":"duplicate"}"#),
        Err(err) => {
            eprintln!("ingest failed: {err}");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable"}"#,
            )
        }
    }
}

/// The normalized kind the library records for a Calendence event type.
fn kind(event: &str) -> &'static str {
    match event {
        "booking.created" => "created",
        "booking.updated" => "updated",
        "booking.cancelled" | "booking.canceled" => "cancelled",
        "booking.completed" => "completed",
        _ => "other",
    }
}

/// What the library stores beside the body: its headers (here the content
/// type and the signature's name, the value redacted) in the library's
/// length-prefixed layout, then the body.
fn payload(body: &[u8]) -> Vec<u8> {
    let mut headers = String::new();
    for part in [
        "content-type",
        "application/json",
        "x-calendence-signature",
        "[redacted]",
    ] {
        headers.push_str(&part.len().to_string());
        headers.push(':');
        headers.push_str(part);
    }
    let mut out = Vec::with_capacity(headers.len() + body.len() + 8);
    out.extend_from_slice(headers.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(body);
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let addr = env("BOOKHOOK_ADDR", "127.0.0.1:18096");
    let url = env("BOOKHOOK_INBOX", "redis://127.0.0.1:6379");
    let prefix = env("BOOKHOOK_INBOX_PREFIX", "bookhook-floor:");
    let secret = env("CALENDENCE_SECRET", "calendence-development-secret");

    let client = redis::Client::open(url.as_str())?;
    let redis = ConnectionManager::new(client).await?;
    let script = Script::new(&format!("{HELPERS}\n{ENQUEUE}"));
    let app = Arc::new(App {
        mac: Hmac::new_from_slice(secret.as_bytes())?,
        redis,
        script,
        prefix,
    });
    let router = Router::new().route(PATH, post(receive)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "Listening on http://{} (storing in {url})",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
