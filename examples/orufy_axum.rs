//! Orufy Bookings webhooks with axum.
//!
//! Run it with `cargo run --example orufy_axum`. It listens on
//! `127.0.0.1:5004` (set `BOOKHOOK_ADDR` to change it), reads the shared token
//! from `ORUFY_TOKEN` (a printed development token otherwise), and prints at
//! start-up a `curl` command that sends it a correctly authenticated event
//! (`Authorization: Bearer ...`; a `?token=` query parameter works too).
//! Stop it with Ctrl-C.

use axum::Router;
use bookhook_axum::bookhook::idempotency::MemoryStore;
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider, WebhookService,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};

const PATH: &str = "/webhook/orufy";

async fn on_booked(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(meeting) = ctx.appointment() {
        let who = meeting.attendee.name.as_deref().unwrap_or("someone");
        let when = meeting.starts_at.map(|t| t.to_string()).unwrap_or_default();
        ctx.state()
            .say(format!("Meeting {} booked by {who} at {when}", meeting.id));
    }
    Ok(())
}

async fn on_changed(ctx: Context<Sink>) -> Result<(), HandlerError> {
    if let Some(meeting) = ctx.appointment() {
        ctx.state()
            .say(format!("Meeting {}: {}", meeting.id, ctx.kind()));
    }
    Ok(())
}

/// The server: one Orufy endpoint.
fn app(token: &str, sink: Sink) -> Result<(Router, Endpoint), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Orufy)
        .secret(token)
        .store(MemoryStore::new())
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), sink)
        .on_kind(Kind::Created, on_booked)
        .on_kind(Kind::Cancelled, on_changed)
        .on_kind(Kind::Rescheduled, on_changed)
        .on_kind(Kind::NoShow, on_changed)
        .build()?;
    let app = Router::new().route_service(PATH, WebhookService::new(dispatcher));
    Ok((app, endpoint))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = secret_from_env("ORUFY_TOKEN", "orufy-development-token");
    let addr = listen_addr("127.0.0.1:5004")?;
    let (app, endpoint) = app(&token, Sink::new())?;
    print_curl(&endpoint, addr, PATH, samples::ORUFY_BOOK);
    serve(app, addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    #[tokio::test]
    async fn handles_bookings_and_cancellations_once() {
        let sink = Sink::new();
        let (app, endpoint) = app("test-token", sink.clone()).unwrap();
        for body in [
            samples::ORUFY_BOOK,
            samples::ORUFY_BOOK,
            samples::ORUFY_CANCEL,
        ] {
            let (status, response) = send_signed(&app, &endpoint, PATH, body).await;
            assert_eq!(status, 200, "{response}");
        }
        assert_eq!(
            sink.lines(),
            [
                "Meeting 665f1c booked by Maya Roy at 2026-07-01T10:00:00+00:00",
                "Meeting 665f1c: cancelled",
            ]
        );
    }
}
