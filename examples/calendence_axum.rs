//! Calendence webhooks with axum.
//!
//! Run it with `cargo run --example calendence_axum`. It listens on
//! `127.0.0.1:5002` (set `BOOKHOOK_ADDR` to change it), reads the signing
//! secret from `CALENDENCE_SECRET` (a printed development secret otherwise),
//! and prints at start-up a `curl` command that sends it a correctly signed
//! event (`X-Calendence-Signature: sha256=...`). Stop it with Ctrl-C.

use axum::Router;
use bookhook_axum::bookhook::idempotency::MemoryStore;
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider, WebhookService,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};

const PATH: &str = "/webhook/calendence";

async fn on_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(booking) = ctx.appointment() {
        let client = booking.attendee.name.as_deref().unwrap_or("a client");
        ctx.state()
            .say(format!("Booking {} created by {client}", booking.id));
    }
    Ok(())
}

async fn on_cancelled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(booking) = ctx.appointment() {
        let note = if ctx.freshness().is_latest() {
            ""
        } else {
            " (stale: a newer event was handled already)"
        };
        ctx.state()
            .say(format!("Booking {} cancelled{note}", booking.id));
    }
    Ok(())
}

/// The server: one Calendence endpoint.
fn app(secret: &str, sink: Sink) -> Result<(Router, Endpoint), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Calendence)
        .secret(secret)
        .store(MemoryStore::new())
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), sink)
        .on_kind(Kind::Created, on_created)
        .on_kind(Kind::Cancelled, on_cancelled)
        .build()?;
    let app = Router::new().route_service(PATH, WebhookService::new(dispatcher));
    Ok((app, endpoint))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret_from_env("CALENDENCE_SECRET", "calendence-development-secret");
    let addr = listen_addr("127.0.0.1:5002")?;
    let (app, endpoint) = app(&secret, Sink::new())?;
    print_curl(&endpoint, addr, PATH, samples::CALENDENCE_CREATED);
    serve(app, addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    #[tokio::test]
    async fn handles_created_and_cancelled_bookings() {
        let sink = Sink::new();
        let (app, endpoint) = app("test-secret", sink.clone()).unwrap();
        let created = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CREATED).await;
        assert_eq!(created, (200, r#"{"status":"ok"}"#.to_owned()));
        let cancelled = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CANCELLED).await;
        assert_eq!(cancelled, (200, r#"{"status":"ok"}"#.to_owned()));
        let again = send_signed(&app, &endpoint, PATH, samples::CALENDENCE_CANCELLED).await;
        assert_eq!(again, (200, r#"{"status":"duplicate"}"#.to_owned()));
        assert_eq!(
            sink.lines(),
            [
                "Booking b-1001 created by Jane Doe",
                "Booking b-1001 cancelled"
            ]
        );
    }
}
