//! Decoda Health webhooks with axum.
//!
//! Run it with `cargo run --example decoda_axum`. It listens on
//! `127.0.0.1:5003` (set `BOOKHOOK_ADDR` to change it), reads the signing
//! secret from `DECODA_SECRET` (a printed development secret otherwise), and
//! prints at start-up a `curl` command that sends it a correctly signed event
//! (`Decoda-Signature`). Stop it with Ctrl-C.
//!
//! Appointment events are routed by normalized kind; every other Decoda event
//! (patients, payments, messages, ...) goes to the fallback.

use axum::Router;
use bookhook_axum::bookhook::idempotency::MemoryStore;
use bookhook_axum::{
    ConfigError, Context, DispatcherBuilder, Endpoint, HandlerError, Kind, Provider, WebhookService,
};
use bookhook_examples::{Sink, listen_addr, print_curl, samples, secret_from_env, serve};

const PATH: &str = "/webhook/decoda";

fn patient(ctx: &Context<Sink>) -> (String, String) {
    ctx.appointment().map_or_else(
        || ("?".to_owned(), "a patient".to_owned()),
        |a| {
            (
                a.id.clone(),
                a.attendee
                    .name
                    .clone()
                    .unwrap_or_else(|| "a patient".into()),
            )
        },
    )
}

async fn on_scheduled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    let (id, name) = patient(&ctx);
    ctx.state()
        .say(format!("Appointment {id} scheduled for {name}"));
    Ok(())
}

async fn on_cancelled(ctx: Context<Sink>) -> Result<(), HandlerError> {
    let (id, name) = patient(&ctx);
    ctx.state()
        .say(format!("Appointment {id} of {name} cancelled"));
    Ok(())
}

async fn on_other(ctx: Context<Sink>) -> Result<(), HandlerError> {
    ctx.state().say(format!(
        "Other Decoda event: {}",
        ctx.delivery().event_type()
    ));
    Ok(())
}

/// The server: one Decoda endpoint.
fn app(secret: &str, sink: Sink) -> Result<(Router, Endpoint), ConfigError> {
    let endpoint = Endpoint::builder(Provider::Decoda)
        .secret(secret)
        .store(MemoryStore::new())
        .build()?;
    let dispatcher = DispatcherBuilder::new(endpoint.clone(), sink)
        .on_kind(Kind::Created, on_scheduled)
        .on_kind(Kind::Cancelled, on_cancelled)
        .fallback(on_other)
        .build()?;
    let app = Router::new().route_service(PATH, WebhookService::new(dispatcher));
    Ok((app, endpoint))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret_from_env("DECODA_SECRET", "decoda-development-secret");
    let addr = listen_addr("127.0.0.1:5003")?;
    let (app, endpoint) = app(&secret, Sink::new())?;
    print_curl(&endpoint, addr, PATH, samples::DECODA_SCHEDULED);
    serve(app, addr).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookhook_examples::send_signed;

    #[tokio::test]
    async fn routes_appointments_and_other_events() {
        let sink = Sink::new();
        let (app, endpoint) = app("test-secret", sink.clone()).unwrap();
        let payment = r#"{"id":"evt_p","type":"PAYMENT_CREATED","data":{"id":"pay-1"}}"#;
        for body in [
            samples::DECODA_SCHEDULED,
            samples::DECODA_SCHEDULED,
            samples::DECODA_CANCELLED,
            payment,
        ] {
            let (status, response) = send_signed(&app, &endpoint, PATH, body).await;
            assert_eq!(status, 200, "{response}");
        }
        assert_eq!(
            sink.lines(),
            [
                "Appointment a-77 scheduled for Ann Lee",
                "Appointment a-77 of Ann Lee cancelled",
                "Other Decoda event: PAYMENT_CREATED",
            ]
        );
    }
}
