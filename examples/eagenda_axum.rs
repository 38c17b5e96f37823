//! eAgenda webhooks with axum: the Flask/Express sample of eAgenda's docs,
//! with verification and deduplication.
//!
//! Run it with `cargo run --example eagenda_axum`. It listens on
//! `127.0.0.1:5000` (set `BOOKHOOK_ADDR` to change it), reads eAgenda's token
//! from `EAGENDA_TOKEN` (a printed development token otherwise), and prints at
//! start-up a `curl` command that sends it a correctly authenticated event.
//! Stop it with Ctrl-C.
//!
//! eAgenda authenticates with the shared token as `Authorization: Bearer ...`.
//! Every delivery is deduplicated: eAgenda may send an event more than once,
//! and the handler runs once.

use axum::Router;
use bookhook_axum::bookhook::{Event, idempotency::MemoryStore};
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, Provider, WebhookService,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};

const PATH: &str = "/webhook/eagenda";

/// The appointment's search code (its key when eAgenda sent none).
fn search_code(ctx: &Context<Sink>) -> String {
    let data = match ctx.event() {
        Event::Eagenda(event) => event.data(),
        _ => None,
    };
    data.map_or_else(
        || String::from("(unknown)"),
        |data| {
            data.search_code
                .clone()
                .unwrap_or_else(|| data.appointment_key.clone())
        },
    )
}

async fn on_created(ctx: Context<Sink>) -> Result<(), HandlerError> {
    // Your logic here (e.g. send an SMS, update a CRM).
    ctx.state()
        .say(format!("New appointment: {}", search_code(&ctx)));
    Ok(())
}

async fn on_canceled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    // Your logic here.
    ctx.state()
        .say(format!("Cancellation: {}", search_code(&ctx)));
    Ok(())
}

/// The server: one eAgenda endpoint with its handlers.
fn app(token: &str, sink: Sink) -> Result<(Router, Endpoint), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Eagenda)
        .secret(token)
        .store(MemoryStore::new())
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), sink)
        .on("appointment.created", on_created)
        .on("appointment.canceled", on_canceled)
        .build()?;
    let app = Router::new().route_service(PATH, WebhookService::new(dispatcher));
    Ok((app, endpoint))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = secret_from_env("EAGENDA_TOKEN", "eagenda-development-token");
    let addr = listen_addr("127.0.0.1:5000")?;
    let (app, endpoint) = app(&token, Sink::new())?;
    print_curl(&endpoint, addr, PATH, samples::EAGENDA_CREATED);
    serve(app, addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    #[tokio::test]
    async fn prints_new_appointments_and_cancellations_once() {
        let sink = Sink::new();
        let (app, endpoint) = app("test-token", sink.clone()).unwrap();
        let created = send_signed(&app, &endpoint, PATH, samples::EAGENDA_CREATED).await;
        assert_eq!(created, (200, r#"{"status":"ok"}"#.to_owned()));
        let again = send_signed(&app, &endpoint, PATH, samples::EAGENDA_CREATED).await;
        assert_eq!(again, (200, r#"{"status":"duplicate"}"#.to_owned()));
        let canceled = send_signed(&app, &endpoint, PATH, samples::EAGENDA_CANCELED).await;
        assert_eq!(canceled.0, 200);
        assert_eq!(
            sink.lines(),
            [
                "New appointment: AGD-2026-001234",
                "Cancellation: AGD-2026-001234"
            ]
        );
    }

    #[tokio::test]
    async fn refuses_a_wrong_token() {
        let sink = Sink::new();
        let (app, _) = app("test-token", sink.clone()).unwrap();
        let other = Endpoint::builder(Provider::Eagenda)
            .secret("not-the-token")
            .build()
            .unwrap();
        let (status, body) = send_signed(&app, &other, PATH, samples::EAGENDA_CREATED).await;
        assert_eq!(status, 401, "{body}");
        assert!(sink.lines().is_empty());
    }
}
