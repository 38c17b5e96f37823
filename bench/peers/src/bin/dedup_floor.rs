//! The floor of a direct-mode Calendence receiver: what bookhook's
//! `calendence_axum` example and `bookhook listen` do per request, written by
//! hand in one process with no SDK. Per request: an axum 0.8 route reads the
//! body, verifies `X-Calendence-Signature` (raw HMAC-SHA256), parses the
//! envelope with serde into a typed struct, claims the delivery's key in a
//! mutex-guarded `lru::LruCache` (a duplicate answers at once), runs a no-op
//! handler, marks the key done and records the booking's newest timestamp in
//! a second cache, then answers 200. Half a million keys per cache, as the
//! core's `ref_lru_dedup` benchmark (`crates/bookhook/benches/pipeline.rs`).
//!
//! ```text
//! BOOKHOOK_ADDR      listening address (default 127.0.0.1:18102)
//! CALENDENCE_SECRET  the signing secret (default calendence-development-secret)
//! ```

/// The same allocator as bookhook's example servers (`bookhook-examples`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use bookhook_bench_peers::{Envelope, accept, reply};
use hmac::{Hmac, Mac};
use lru::LruCache;
use sha2::Sha256;

const PATH: &str = "/webhook/calendence";
const KEYS: usize = 500_000;

/// Whether a key's handler is running or has finished.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    Running,
    Done,
}

struct App {
    /// The HMAC key state, prepared once and cloned per request.
    mac: Hmac<Sha256>,
    claims: Mutex<LruCache<String, Claim>>,
    /// The newest event time seen per booking.
    newest: Mutex<LruCache<String, String>>,
}

async fn handler(_envelope: &Envelope) -> Result<(), ()> {
    Ok(())
}

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let envelope = match accept(&app.mac, &headers, &body) {
        Ok(envelope) => envelope,
        Err(refused) => return refused,
    };
    let key = envelope.key();
    {
        let mut claims = app.claims.lock().unwrap();
        match claims.get(&key) {
            Some(Claim::Done) => return reply(StatusCode::OK, r#"{"status":"duplicate"}"#),
            Some(Claim::Running) => {
                return reply(StatusCode::CONFLICT, r#"{"status":"in_flight"}"#);
            }
            None => {
                claims.put(key.clone(), Claim::Running);
            }
        }
    }
    let handled = handler(&envelope).await;
    let mut claims = app.claims.lock().unwrap();
    match handled {
        Ok(()) => {
            claims.put(key, Claim::Done);
            drop(claims);
            let mut newest = app.newest.lock().unwrap();
            let older = newest
                .get(&envelope.data.id)
                .is_none_or(|seen| *seen < envelope.timestamp);
            if older {
                newest.put(envelope.data.id, envelope.timestamp);
            }
            reply(StatusCode::OK, r#"{"status":"ok"}"#)
        }
        Err(()) => {
            claims.pop(&key);
            reply(StatusCode::INTERNAL_SERVER_ERROR, r#"{"status":"failed"}"#)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let addr = env("BOOKHOOK_ADDR", "127.0.0.1:18102");
    let secret = env("CALENDENCE_SECRET", "calendence-development-secret");
    let capacity = NonZeroUsize::new(KEYS).expect("not zero");
    let app = Arc::new(App {
        mac: Hmac::new_from_slice(secret.as_bytes())?,
        claims: Mutex::new(LruCache::new(capacity)),
        newest: Mutex::new(LruCache::new(capacity)),
    });
    let router = Router::new().route(PATH, post(receive)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
